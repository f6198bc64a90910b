"""Running prediction services and the traffic changes applied to them: the records.

A service (one run of ``mloop serve``, all its workers) registers itself in the metadata store of
the project it serves from, then heartbeats: every worker reports, every
:data:`HEARTBEAT_S` seconds, what it serves (champion, canary and its percentage, shadow, pinned
or following an alias) and whether it is healthy. A service that stops cleanly marks itself
stopped; one that dies stops heartbeating and is *stale* once its heartbeat is older than
:data:`STALE_AFTER_S`. Every change of the split (an admin call, an alias the service follows
moving, the service starting) is a :class:`TrafficChange` row: who, when, why, from what to what.
See docs/adr/0026-running-services-in-the-metadata-store.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "HEARTBEAT_S",
    "HIDE_AFTER_S",
    "STALE_AFTER_S",
    "ServiceRecord",
    "TrafficChange",
    "TrafficSnapshot",
]

HEARTBEAT_S = 5.0
"""Seconds between two heartbeats of one worker."""

STALE_AFTER_S = 3 * HEARTBEAT_S
"""A service whose last heartbeat is older than this (s) is shown as stale (three missed)."""

HIDE_AFTER_S = 3600.0
"""A stale service older than this (s) is no longer listed as running (its history stays)."""


@dataclass(frozen=True)
class TrafficSnapshot:
    """What a service serves: the champion (``pinned``: to ``champion_uri`` by an admin reload,
    else following ``follows``), a canary taking ``canary_percent`` (0-100) of the requests, a
    shadow seeing a copy of each. ``generation`` is the service's admin generation (ADR 0022):
    a worker that has not applied the newest one yet does not overwrite the split."""

    champion_uri: str
    champion_version: str | None = None
    pinned: bool = False
    follows: str | None = None
    canary_uri: str | None = None
    canary_version: str | None = None
    canary_percent: float = 0.0
    shadow_uri: str | None = None
    shadow_version: str | None = None
    generation: int = 0

    def split_key(self) -> tuple[object, ...]:
        """The fields whose change is a traffic change (the generation alone is not)."""
        return (
            self.champion_uri,
            self.champion_version,
            self.pinned,
            self.canary_uri,
            self.canary_version,
            round(self.canary_percent, 6) if self.canary_uri else 0.0,
            self.shadow_uri,
            self.shadow_version,
        )


@dataclass(frozen=True)
class ServiceRecord:
    """One running (or stopped) service as the metadata store knows it. Times are UTC."""

    id: str
    model: str
    environment: str
    url: str | None
    host: str
    pid: int
    workers: int
    model_uri: str
    traffic: TrafficSnapshot
    healthy: bool
    status: str | None
    started_at: datetime
    heartbeat_at: datetime
    traffic_since: datetime
    stopped_at: datetime | None = None

    def stale(self, now: datetime) -> bool:
        """True when no heartbeat arrived for :data:`STALE_AFTER_S` seconds (or it stopped)."""
        return self.stopped_at is not None or (
            (now - self.heartbeat_at).total_seconds() > STALE_AFTER_S
        )


@dataclass(frozen=True)
class TrafficChange:
    """One change of a service's split: ``kind`` is ``start``, ``traffic`` (canary/shadow),
    ``reload`` (pin), ``follow`` (unpin), ``alias`` (the followed alias moved) or ``stop``."""

    id: int
    service_id: str
    model: str
    environment: str
    kind: str
    actor: str
    reason: str | None
    at: datetime
    traffic: TrafficSnapshot
