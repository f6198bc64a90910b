"""``SqlServiceStore``: running prediction services and their traffic changes (SQL).

:meth:`SqlServiceStore.report` is one write transaction: register the service on its first
report (recording a ``start`` change), else refresh its heartbeat, and when the split it
reports differs from the stored one, store it and append a :class:`TrafficChange`. A report of
an older admin generation than the stored one only refreshes the heartbeat, so a worker that
has not applied a sibling's change yet cannot flip the recorded split back.
The read functions take a connection, so a UI page reads services, changes and the rest of
its rows in one snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop.metadata.service_records import (
    HIDE_AFTER_S,
    ServiceRecord,
    TrafficChange,
    TrafficSnapshot,
)
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import services, traffic_changes

__all__ = ["SqlServiceStore", "list_changes", "list_services"]

_S = services.c
_C = traffic_changes.c


def _snapshot(doc: Mapping[str, Any] | None) -> TrafficSnapshot:
    known = {f.name for f in dataclasses.fields(TrafficSnapshot)}
    values = {k: v for k, v in dict(doc or {}).items() if k in known}
    values.setdefault("champion_uri", "")
    return TrafficSnapshot(**values)


def _service(row: Mapping[Any, Any]) -> ServiceRecord:
    return ServiceRecord(
        id=row["id"],
        model=row["model"],
        environment=row["environment"],
        url=row["url"],
        host=row["host"],
        pid=int(row["pid"]),
        workers=int(row["workers"]),
        model_uri=row["model_uri"],
        traffic=_snapshot(row["traffic"]),
        healthy=bool(row["healthy"]),
        status=row["status"],
        started_at=as_utc(row["started_at"]),
        heartbeat_at=as_utc(row["heartbeat_at"]),
        traffic_since=as_utc(row["traffic_since"]),
        stopped_at=None if row["stopped_at"] is None else as_utc(row["stopped_at"]),
    )


def _change(row: Mapping[Any, Any]) -> TrafficChange:
    return TrafficChange(
        id=int(row["id"]),
        service_id=row["service_id"],
        model=row["model"],
        environment=row["environment"],
        kind=row["kind"],
        actor=row["actor"],
        reason=row["reason"],
        at=as_utc(row["at"]),
        traffic=_snapshot(row["traffic"]),
    )


def list_services(
    conn: sa.Connection, *, now: datetime | None = None, hide_after_s: float = HIDE_AFTER_S
) -> list[ServiceRecord]:
    """Services not stopped whose last heartbeat is newer than ``hide_after_s`` seconds (stale
    ones included: the caller shows them as such), by environment, model and start (1 query)."""
    cutoff = (as_utc(now) if now is not None else utc_now()) - timedelta(seconds=hide_after_s)
    query = (
        sa.select(services)
        .where(_S.stopped_at.is_(None), _S.heartbeat_at >= cutoff)
        .order_by(_S.environment, _S.model, _S.started_at)
    )
    return [_service(r._mapping) for r in conn.execute(query)]


def list_changes(conn: sa.Connection, *, limit: int = 50) -> list[TrafficChange]:
    """The newest ``limit`` traffic changes of every service, newest first (1 query)."""
    query = sa.select(traffic_changes).order_by(_C.id.desc()).limit(limit)
    return [_change(r._mapping) for r in conn.execute(query)]


def _kind_of(old: TrafficSnapshot, new: TrafficSnapshot) -> str:
    """What an unannounced change is: the followed alias moved (only the champion's version
    changed), else a change this report observed (another worker's, or a restart's)."""
    same_but_version = dataclasses.replace(new, champion_version=old.champion_version)
    return "alias" if same_but_version.split_key() == old.split_key() else "observed"


class SqlServiceStore:
    """Running services on the metadata store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def report(
        self,
        service_id: str,
        *,
        model: str,
        environment: str,
        url: str | None,
        host: str,
        pid: int,
        workers: int,
        model_uri: str,
        traffic: TrafficSnapshot,
        healthy: bool,
        status: str | None = None,
        change: tuple[str, str, str | None] | None = None,
        now: datetime | None = None,
    ) -> TrafficChange | None:
        """Register or heartbeat ``service_id`` with what it serves now; ``change`` (kind,
        actor, reason) announces an admin change, recorded even when the split looks the same.
        Returns the change recorded (None: the split did not move)."""
        at = as_utc(now) if now is not None else utc_now()
        doc = dataclasses.asdict(traffic)
        with write_transaction(self._engine) as conn:
            row = conn.execute(sa.select(services).where(_S.id == service_id)).first()
            if row is None:
                conn.execute(
                    services.insert().values(
                        id=service_id,
                        model=model,
                        environment=environment,
                        url=url,
                        host=host,
                        pid=pid,
                        workers=workers,
                        model_uri=model_uri,
                        traffic=doc,
                        generation=traffic.generation,
                        healthy=healthy,
                        status=status,
                        started_at=at,
                        heartbeat_at=at,
                        traffic_since=at,
                        stopped_at=None,
                    )
                )
                kind, actor, reason = change or ("start", "mloop serve", None)
                return self._append(
                    conn, service_id, model, environment, kind, actor, reason, at, traffic
                )
            values: dict[str, Any] = {
                "heartbeat_at": at,
                "healthy": healthy,
                "status": status,
                "workers": workers,
                "stopped_at": None,
            }
            recorded = None
            if traffic.generation >= int(row.generation):
                old = _snapshot(row.traffic)
                values.update(traffic=doc, generation=traffic.generation)
                if change is not None or old.split_key() != traffic.split_key():
                    kind, actor, reason = change or (_kind_of(old, traffic), "mloop serve", None)
                    values["traffic_since"] = at
                    recorded = self._append(
                        conn, service_id, model, environment, kind, actor, reason, at, traffic
                    )
            conn.execute(services.update().where(_S.id == service_id).values(**values))
            return recorded

    @staticmethod
    def _append(
        conn: sa.Connection,
        service_id: str,
        model: str,
        environment: str,
        kind: str,
        actor: str,
        reason: str | None,
        at: datetime,
        traffic: TrafficSnapshot,
    ) -> TrafficChange:
        row = {
            "service_id": service_id,
            "model": model,
            "environment": environment,
            "kind": kind,
            "actor": actor[:255],
            "reason": reason,
            "at": at,
            "traffic": dataclasses.asdict(traffic),
        }
        key = conn.execute(traffic_changes.insert().values(row)).inserted_primary_key
        assert key is not None  # an INSERT always has one
        new_id = key[0]
        return _change({**row, "id": new_id})

    def stop(self, service_id: str, *, now: datetime | None = None) -> bool:
        """Mark the service stopped (its clean shutdown); False when it was not registered or
        already stopped. A worker still running re-opens it with its next heartbeat."""
        at = as_utc(now) if now is not None else utc_now()
        with write_transaction(self._engine) as conn:
            done = conn.execute(
                services.update()
                .where(_S.id == service_id, _S.stopped_at.is_(None))
                .values(stopped_at=at)
            )
            return bool(done.rowcount)

    def get(self, service_id: str) -> ServiceRecord | None:
        with read_transaction(self._engine) as conn:
            row = conn.execute(sa.select(services).where(_S.id == service_id)).first()
        return None if row is None else _service(row._mapping)

    def running(self, *, now: datetime | None = None) -> list[ServiceRecord]:
        with read_transaction(self._engine) as conn:
            return list_services(conn, now=now)

    def changes(self, *, limit: int = 50) -> list[TrafficChange]:
        with read_transaction(self._engine) as conn:
            return list_changes(conn, limit=limit)
