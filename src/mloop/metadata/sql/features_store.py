"""``SqlFeatureDefinitionStore``: feature-store definitions in the ``feature_definitions`` table.

Versions are numbered per ``(kind, name)`` inside one write transaction (``BEGIN IMMEDIATE`` on
SQLite, a row lock on PostgreSQL via the primary key), so two ``apply`` calls at once cannot
both take the same number: the loser's insert fails and is retried once against the new latest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop.errors import ExecutionNotFoundError
from mloop.metadata.feature_definitions import FeatureDefinition, FeatureDefinitionStore
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import artifacts, events, executions, feature_definitions

_T = feature_definitions


def _from_row(row: Mapping[Any, Any]) -> FeatureDefinition:
    return FeatureDefinition(
        kind=row["kind"],
        name=row["name"],
        version=int(row["version"]),
        digest=row["digest"],
        spec=dict(row["spec"]),
        created_at=as_utc(row["created_at"]),
        forced=bool(row["forced"]),
        change=row["change"],
    )


class SqlFeatureDefinitionStore(FeatureDefinitionStore):
    """Definitions on the metadata store's engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def record(
        self,
        kind: str,
        name: str,
        digest: str,
        spec: Mapping[str, Any],
        *,
        forced: bool = False,
        change: str | None = None,
    ) -> FeatureDefinition:
        for attempt in range(2):
            try:
                return self._record_once(kind, name, digest, spec, forced, change)
            except sa.exc.IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record_once(
        self,
        kind: str,
        name: str,
        digest: str,
        spec: Mapping[str, Any],
        forced: bool,
        change: str | None,
    ) -> FeatureDefinition:
        with write_transaction(self._engine) as conn:
            row = (
                conn.execute(
                    sa.select(_T)
                    .where(_T.c.kind == kind, _T.c.name == name)
                    .order_by(_T.c.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is not None and row["digest"] == digest:
                return _from_row(row)
            values = {
                "kind": kind,
                "name": name,
                "version": 1 if row is None else int(row["version"]) + 1,
                "digest": digest,
                "spec": dict(spec),
                "created_at": utc_now(),
                "forced": forced,
                "change": change,
            }
            conn.execute(_T.insert().values(**values))
            return _from_row(values)

    def latest(self, kind: str | None = None) -> list[FeatureDefinition]:
        newest = (
            sa.select(_T.c.kind, _T.c.name, sa.func.max(_T.c.version).label("version"))
            .group_by(_T.c.kind, _T.c.name)
            .subquery()
        )
        query = (
            sa.select(_T)
            .join(
                newest,
                sa.and_(
                    _T.c.kind == newest.c.kind,
                    _T.c.name == newest.c.name,
                    _T.c.version == newest.c.version,
                ),
            )
            .order_by(_T.c.kind, _T.c.name)
        )
        if kind is not None:
            query = query.where(_T.c.kind == kind)
        with read_transaction(self._engine) as conn:
            return [_from_row(r) for r in conn.execute(query).mappings()]

    def generation(self) -> object:
        # versions are only ever added: the row count and the newest time change on each one
        query = sa.select(sa.func.count(), sa.func.max(_T.c.created_at))
        with read_transaction(self._engine) as conn:
            count, newest = conn.execute(query).one()
        return int(count), str(newest)

    def history(self, kind: str, name: str) -> list[FeatureDefinition]:
        query = sa.select(_T).where(_T.c.kind == kind, _T.c.name == name).order_by(_T.c.version)
        with read_transaction(self._engine) as conn:
            return [_from_row(r) for r in conn.execute(query).mappings()]

    def link_inputs(self, execution_id: str, definitions: list[FeatureDefinition]) -> None:
        with write_transaction(self._engine) as conn:
            found = conn.execute(
                sa.select(executions.c.id).where(executions.c.id == execution_id)
            ).first()
            if found is None:
                raise ExecutionNotFoundError(execution_id)
            for d in definitions:
                exists = conn.execute(
                    sa.select(artifacts.c.id).where(artifacts.c.id == d.artifact_id)
                ).first()
                if exists is None:
                    conn.execute(
                        artifacts.insert().values(
                            id=d.artifact_id,
                            type="FeatureView",
                            uri=f"mloop-features://{d.kind}/{d.name}/v{d.version}",
                            digest=d.digest,
                            size=0,
                            created_at=d.created_at,
                            materializer=None,
                            properties={"kind": d.kind, "name": d.name, "version": d.version},
                        )
                    )
                name = f"{d.kind}:{d.name}"
                linked = conn.execute(
                    sa.select(events.c.artifact_id).where(
                        events.c.execution_id == execution_id,
                        events.c.kind == "input",
                        events.c.name == name,
                    )
                ).first()
                if linked is None:
                    conn.execute(
                        events.insert().values(
                            execution_id=execution_id,
                            kind="input",
                            name=name,
                            artifact_id=d.artifact_id,
                        )
                    )
