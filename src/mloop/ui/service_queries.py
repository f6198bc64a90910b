"""What the deployments page reads from every environment's store, a fixed number of queries.

Each environment of ``mloop.yaml`` may keep its own metadata store (test, staging and prod
usually do), and a service registers in the store of the environment it serves from, so the
page reads each distinct store once: its running services, their newest traffic changes, its
pipeline deployments and the ones waiting for approval (four statements per store, whatever the
number of rows). Stores are opened once per UI process and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mloop.metadata.service_records import ServiceRecord, TrafficChange
from mloop.metadata.sql.engine import read_transaction
from mloop.metadata.sql.services_store import list_changes, list_services
from mloop.ui.registry_queries import deployment_rows, pending_rows

CHANGES_SHOWN = 50
"""Newest traffic changes listed per store."""


@dataclass
class StoreReading:
    """What one store holds for the page; ``environments`` are the ones that use it."""

    environments: tuple[str, ...]
    services: list[ServiceRecord] = field(default_factory=list)
    changes: list[TrafficChange] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def read_store(
    conn: sa.Connection, environments: tuple[str, ...], *, now: datetime
) -> StoreReading:
    """The four statements of one store (through ``conn``, one snapshot)."""
    return StoreReading(
        environments=environments,
        services=list_services(conn, now=now),
        changes=list_changes(conn, limit=CHANGES_SHOWN),
        deployments=deployment_rows(conn),
        pending=pending_rows(conn),
    )


def read_other(engine: sa.Engine, environments: tuple[str, ...], *, now: datetime) -> StoreReading:
    """:func:`read_store` on another environment's store; a store that cannot be read gives
    an empty reading with the error (the page says which environment it could not read)."""
    try:
        with read_transaction(engine) as conn:
            return read_store(conn, environments, now=now)
    except sa.exc.SQLAlchemyError as exc:
        return StoreReading(environments=environments, error=f"{type(exc).__name__}: {exc}")


def service_view(service: ServiceRecord, now: datetime) -> dict[str, Any]:
    """A service as the page shows it: split, pin, since, health (stale after
    :data:`~mloop.metadata.service_records.STALE_AFTER_S` s without a heartbeat)."""
    t = service.traffic
    canary = t.canary_percent if t.canary_uri else 0.0
    if service.stale(now):
        age = (now - service.heartbeat_at).total_seconds()
        health, health_class = f"stale: no heartbeat for {age:.0f} s", "warning"
    elif service.healthy:
        health, health_class = "healthy", "ok"
    else:
        health, health_class = f"unhealthy: {service.status or 'unknown'}", "bad"
    return {
        "id": service.id,
        "model": service.model,
        "environment": service.environment,
        "url": service.url,
        "where": f"{service.host} pid {service.pid}",
        "workers": service.workers,
        "champion": _version_text(t.champion_version, t.champion_uri),
        "champion_percent": 100.0 - canary,
        "pin": f"pinned to {t.champion_uri}"
        if t.pinned
        else (f"follows {t.follows}" if t.follows else "fixed URI"),
        "canary": _version_text(t.canary_version, t.canary_uri) if t.canary_uri else None,
        "canary_percent": canary,
        "shadow": _version_text(t.shadow_version, t.shadow_uri) if t.shadow_uri else None,
        "since": service.traffic_since,
        "started": service.started_at,
        "heartbeat": service.heartbeat_at,
        "health": health,
        "health_class": health_class,
        "stale": service.stale(now),
        "alias": _alias_of(t.follows),
    }


def change_view(change: TrafficChange) -> dict[str, Any]:
    t = change.traffic
    parts = [f"champion {_version_text(t.champion_version, t.champion_uri)}"]
    if t.canary_uri:
        parts.append(
            f"canary {_version_text(t.canary_version, t.canary_uri)} {t.canary_percent:g}%"
        )
    if t.shadow_uri:
        parts.append(f"shadow {_version_text(t.shadow_version, t.shadow_uri)}")
    if t.pinned:
        parts.append("pinned")
    return {
        "at": change.at,
        "environment": change.environment,
        "model": change.model,
        "service": change.service_id,
        "kind": change.kind,
        "actor": change.actor,
        "reason": change.reason,
        "split": " · ".join(parts),
    }


def _version_text(version: str | None, uri: str | None) -> str:
    if version is not None:
        return f"v{version}" if version.isdigit() else version
    return f"{uri} (loading)" if uri else "—"


def _alias_of(follows: str | None) -> str | None:
    if not follows or "@" not in follows:
        return None
    return follows.rsplit("@", 1)[1]
