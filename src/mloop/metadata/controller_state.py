"""What the controller keeps in the metadata store: trigger events and the leader lease.

A trigger event is one firing of a trigger (on demand, schedule, new data, drift, degradation):
why it fired, what it saw, and the run it started. The leader lease is one row per controller
group; only its holder starts runs, so two controllers never start the same run twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class EventState(str, Enum):
    """Life of a trigger event: pending -> running -> succeeded | failed; or skipped."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_terminal(self) -> bool:
        return self in (EventState.SUCCEEDED, EventState.FAILED, EventState.SKIPPED)


@dataclass(frozen=True)
class TriggerEvent:
    """One fired trigger and, once started, the run it started (``run_id``).

    While running, ``claimed_by`` is the controller that started it and ``launcher_host`` /
    ``launcher_pid`` the launcher process, which renews ``heartbeat_at`` every few seconds."""

    id: str
    pipeline: str
    kind: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    state: EventState = EventState.PENDING
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    claimed_by: str | None = None
    run_id: str | None = None
    error: str | None = None
    launcher_host: str | None = None
    launcher_pid: int | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class Lease:
    """Who holds a named lease and until when (UTC)."""

    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime


class ControllerStateStore(ABC):
    """Trigger events and leases; every state change is one atomic conditional write."""

    @abstractmethod
    def record_event(
        self,
        pipeline: str,
        kind: str,
        reason: str,
        payload: Mapping[str, Any] | None = None,
        *,
        state: EventState = EventState.PENDING,
    ) -> TriggerEvent:
        """A new event (pending unless told otherwise, e.g. ``SKIPPED`` when debounced)."""

    @abstractmethod
    def get_event(self, event_id: str) -> TriggerEvent: ...

    @abstractmethod
    def list_events(
        self,
        *,
        pipeline: str | None = None,
        states: Sequence[EventState] | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[TriggerEvent]:
        """Events newest first."""

    @abstractmethod
    def claim_event(self, event_id: str, holder: str) -> bool:
        """Pending -> running for ``holder``; False if someone else claimed it first."""

    @abstractmethod
    def attach_run(self, event_id: str, run_id: str) -> None:
        """Record the run an event started."""

    @abstractmethod
    def finish_event(self, event_id: str, state: EventState, *, error: str | None = None) -> None:
        """Close a running (or pending) event as succeeded, failed or skipped."""

    @abstractmethod
    def set_launcher(self, event_id: str, host: str, pid: int) -> None:
        """Record the launcher process of a running event (and count it as a heartbeat)."""

    @abstractmethod
    def heartbeat_event(self, event_id: str) -> bool:
        """Renew a running event's ``heartbeat_at``; False once it is no longer running."""

    @abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew ``name`` for ``ttl_s`` seconds; False while another holder's is live."""

    @abstractmethod
    def release_lease(self, name: str, holder: str) -> None:
        """Give up ``name`` if ``holder`` holds it (others may take it at once)."""

    @abstractmethod
    def get_lease(self, name: str) -> Lease | None: ...
