"""``SqlControllerStore``: trigger events and leader leases on SQLite and PostgreSQL.

Every transition is a conditional ``UPDATE ... WHERE`` whose row count says who won: an event is
claimed only while pending, a lease is taken only while free, expired or already ours. Both
databases make such an update atomic, so two controllers cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop._utils.ids import new_id
from mloop.errors import StoreError, ValidationError
from mloop.metadata.controller_state import ControllerStateStore, EventState, Lease, TriggerEvent
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import controller_leases, trigger_events


def _event(row: Mapping[Any, Any]) -> TriggerEvent:
    def opt(v: Any) -> Any:
        return None if v is None else as_utc(v)

    return TriggerEvent(
        id=row["id"],
        pipeline=row["pipeline"],
        kind=row["kind"],
        reason=row["reason"],
        payload=dict(row["payload"] or {}),
        state=EventState(row["state"]),
        created_at=opt(row["created_at"]),
        started_at=opt(row["started_at"]),
        ended_at=opt(row["ended_at"]),
        claimed_by=row["claimed_by"],
        run_id=row["run_id"],
        error=row["error"],
        launcher_host=row["launcher_host"],
        launcher_pid=row["launcher_pid"],
        heartbeat_at=opt(row["heartbeat_at"]),
    )


class SqlControllerStore(ControllerStateStore):
    """Controller state on the metadata store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- trigger events ---------------------------------------------------------------------
    def record_event(
        self,
        pipeline: str,
        kind: str,
        reason: str,
        payload: Mapping[str, Any] | None = None,
        *,
        state: EventState = EventState.PENDING,
    ) -> TriggerEvent:
        if not pipeline or not kind:
            raise ValidationError("a trigger event needs a pipeline name and a kind")
        now = utc_now()
        row = {
            "id": new_id(),
            "pipeline": pipeline,
            "kind": kind,
            "reason": reason or kind,
            "payload": dict(payload or {}),
            "state": EventState(state).value,
            "created_at": now,
            "started_at": None,
            "ended_at": now if EventState(state).is_terminal else None,
            "claimed_by": None,
            "run_id": None,
            "error": None,
            "launcher_host": None,
            "launcher_pid": None,
            "heartbeat_at": None,
        }
        with write_transaction(self._engine) as conn:
            conn.execute(trigger_events.insert().values(row))
        return _event(row)

    def get_event(self, event_id: str) -> TriggerEvent:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(trigger_events).where(trigger_events.c.id == event_id)
            ).first()
        if row is None:
            raise StoreError(
                f"no trigger event {event_id!r}: list them with `mloop trigger --list`"
            )
        return _event(row._mapping)

    def list_events(
        self,
        *,
        pipeline: str | None = None,
        states: Sequence[EventState] | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[TriggerEvent]:
        stmt = sa.select(trigger_events)
        if pipeline is not None:
            stmt = stmt.where(trigger_events.c.pipeline == pipeline)
        if states is not None:
            stmt = stmt.where(trigger_events.c.state.in_([EventState(s).value for s in states]))
        if kind is not None:
            stmt = stmt.where(trigger_events.c.kind == kind)
        stmt = stmt.order_by(trigger_events.c.created_at.desc(), trigger_events.c.id.desc())
        with read_transaction(self._engine) as conn:
            return [_event(r._mapping) for r in conn.execute(stmt.limit(limit))]

    def claim_event(self, event_id: str, holder: str) -> bool:
        stmt = (
            trigger_events.update()
            .where(
                trigger_events.c.id == event_id,
                trigger_events.c.state == EventState.PENDING.value,
            )
            .values(state=EventState.RUNNING.value, claimed_by=holder, started_at=utc_now())
        )
        with write_transaction(self._engine) as conn:
            return conn.execute(stmt).rowcount == 1

    def attach_run(self, event_id: str, run_id: str) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                trigger_events.update().where(trigger_events.c.id == event_id).values(run_id=run_id)
            )

    def finish_event(self, event_id: str, state: EventState, *, error: str | None = None) -> None:
        state = EventState(state)
        if not state.is_terminal:
            raise ValidationError(f"finish_event needs a terminal state, not {state.value!r}")
        with write_transaction(self._engine) as conn:
            conn.execute(
                trigger_events.update()
                .where(
                    trigger_events.c.id == event_id,
                    trigger_events.c.state.in_(
                        [EventState.PENDING.value, EventState.RUNNING.value]
                    ),
                )
                .values(state=state.value, ended_at=utc_now(), error=error)
            )

    def set_launcher(self, event_id: str, host: str, pid: int) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                trigger_events.update()
                .where(trigger_events.c.id == event_id)
                .values(launcher_host=host, launcher_pid=int(pid), heartbeat_at=utc_now())
            )

    def heartbeat_event(self, event_id: str) -> bool:
        stmt = (
            trigger_events.update()
            .where(
                trigger_events.c.id == event_id,
                trigger_events.c.state == EventState.RUNNING.value,
            )
            .values(heartbeat_at=utc_now())
        )
        with write_transaction(self._engine) as conn:
            return conn.execute(stmt).rowcount == 1

    # -- leases -----------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        if ttl_s <= 0:
            raise ValidationError(f"a lease needs a positive time to live, not {ttl_s} s")
        now = utc_now()
        expires = now + timedelta(seconds=ttl_s)
        c = controller_leases.c
        with write_transaction(self._engine) as conn:
            taken = conn.execute(
                controller_leases.update()
                .where(c.name == name, sa.or_(c.holder == holder, c.expires_at < now))
                .values(
                    holder=holder,
                    expires_at=expires,
                    acquired_at=sa.case((c.holder == holder, c.acquired_at), else_=now),
                )
            ).rowcount
            if taken == 1:
                return True
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(
                    controller_leases.insert().values(
                        name=name, holder=holder, expires_at=expires, acquired_at=now
                    )
                )
            return True
        except sa.exc.IntegrityError:
            return False  # someone holds it (the row exists and is live)

    def release_lease(self, name: str, holder: str) -> None:
        c = controller_leases.c
        with write_transaction(self._engine) as conn:
            conn.execute(
                controller_leases.update()
                .where(c.name == name, c.holder == holder)
                .values(expires_at=utc_now() - timedelta(seconds=1))
            )

    def get_lease(self, name: str) -> Lease | None:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(controller_leases).where(controller_leases.c.name == name)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return Lease(m["name"], m["holder"], as_utc(m["expires_at"]), as_utc(m["acquired_at"]))
