"""``SqlMetadataStore``: the metadata store on SQLite or PostgreSQL (SQLAlchemy Core).

Every public method is one transaction; writes on SQLite start with ``BEGIN IMMEDIATE`` (see
``engine.py``), so several processes can share one file. Ids are checked explicitly inside the
transaction, so a bad id raises the matching ``NotFoundError`` rather than a driver error.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mloop._utils.clock import as_utc, utc_now
from mloop._utils.ids import new_id
from mloop.errors import (
    ArtifactNotFoundError,
    ExecutionNotFoundError,
    RunNotFoundError,
    StoreError,
    ValidationError,
)
from mloop.metadata.base import MetadataStore, MetricFilter
from mloop.metadata.entities import (
    Artifact,
    Event,
    EventKind,
    Execution,
    ExecutionState,
    Metric,
    Pipeline,
    Run,
    RunState,
)
from mloop.metadata.run_writes import RunWrites
from mloop.metadata.sql import rows
from mloop.metadata.sql.controller_store import SqlControllerStore
from mloop.metadata.sql.deployments_store import SqlDeploymentStore
from mloop.metadata.sql.engine import create_engine, read_transaction, write_transaction
from mloop.metadata.sql.features_store import SqlFeatureDefinitionStore
from mloop.metadata.sql.fingerprint_store import SqlFileFingerprintStore
from mloop.metadata.sql.lane import WriteLane
from mloop.metadata.sql.migrate import ensure_schema
from mloop.metadata.sql.monitoring_store import SqlMonitoringStore
from mloop.metadata.sql.registry_store import SqlModelRegistryStore
from mloop.metadata.sql.schema import (
    artifacts,
    events,
    executions,
    latest_metrics,
    pipelines,
    runs,
)
from mloop.metadata.sql.schema import metrics as metrics_table
from mloop.metadata.sql.schema import params as params_table
from mloop.metadata.sql.schema import tags as tags_table
from mloop.metadata.sql.search import search_statement
from mloop.metadata.sql.services_store import SqlServiceStore
from mloop.metadata.sql.tracking_writes import (
    insert_metrics,
    insert_params,
    insert_run,
    insert_tags,
    write_runs,
)

MIN_PREFIX = 6
"""Shortest run id prefix (characters) that :meth:`SqlMetadataStore.get_run` accepts."""
_ID_CHARS = re.compile(r"^[0-9a-z]+$")
_IN_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit
# Statements of the per-step hot path, built once: SQLAlchemy then reuses their compiled form
# without rebuilding the statement objects on every call (about 0.1 ms saved per statement).
_INSERT_EXECUTION = executions.insert()
_INSERT_EVENTS = events.insert()
_INSERT_ARTIFACTS = artifacts.insert()
_FINISH_EXECUTION = (
    executions.update()
    .where(executions.c.id == sa.bindparam("_execution_id"))
    .returning(*executions.c)
)
_FIND_CACHED = (
    sa.select(executions)
    .where(
        executions.c.cache_key == sa.bindparam("_cache_key"),
        executions.c.state.in_([ExecutionState.SUCCEEDED.value, ExecutionState.CACHED.value]),
    )
    .order_by(executions.c.created_at.desc(), executions.c.id.desc())
    .limit(1)
)


class SqlMetadataStore(MetadataStore):
    """The metadata store on SQLite (``sqlite:///path``) or PostgreSQL
    (``postgresql+psycopg://...``). Construct with :meth:`open`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None
        self._lane: WriteLane | None = None  # tracking writes: a driver connection per thread

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> SqlMetadataStore:
        store = cls(url)
        engine = create_engine(url)
        try:
            ensure_schema(engine, url, migrate=migrate)
        except BaseException:
            engine.dispose()
            raise
        store._engine = engine
        store._lane = WriteLane(engine)
        return store

    def close(self) -> None:
        if self._lane is not None:
            self._lane.close()
            self._lane = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def closed(self) -> bool:
        return self._engine is None

    def __repr__(self) -> str:
        return f"SqlMetadataStore({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            raise StoreError(f"{self!r} is closed or was never opened; use SqlMetadataStore.open")
        return self._engine

    @property
    def lane(self) -> WriteLane:
        """Where tracking writes go (``lane.py``): one driver connection per thread."""
        if self._lane is None:
            self._lane = WriteLane(self.engine)  # raises StoreError when closed
        return self._lane

    def feature_definitions(self) -> SqlFeatureDefinitionStore:
        return SqlFeatureDefinitionStore(self.engine)

    def model_registry(self) -> SqlModelRegistryStore:
        return SqlModelRegistryStore(self.engine)

    def monitoring(self) -> SqlMonitoringStore:
        return SqlMonitoringStore(self.engine)

    def deployments(self) -> SqlDeploymentStore:
        return SqlDeploymentStore(self.engine)

    def services(self) -> SqlServiceStore:
        """Running prediction services and their traffic changes (ADR 0026)."""
        return SqlServiceStore(self.engine)

    def controller_state(self) -> SqlControllerStore:
        return SqlControllerStore(self.engine)

    def file_fingerprints(self) -> SqlFileFingerprintStore:
        return SqlFileFingerprintStore(self.engine)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with read_transaction(self.engine) as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        """A dialect INSERT that supports ``on_conflict_do_*``."""
        dialect = self.engine.dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    @staticmethod
    def _require_run(conn: sa.Connection, run_id: str) -> None:
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise RunNotFoundError(run_id)

    @staticmethod
    def _require_artifacts(conn: sa.Connection, artifact_ids: Iterable[str]) -> None:
        wanted = set(artifact_ids)
        if not wanted:
            return
        found: set[str] = set()
        for chunk in _chunks(sorted(wanted)):
            found.update(conn.scalars(sa.select(artifacts.c.id).where(artifacts.c.id.in_(chunk))))
        missing = sorted(wanted - found)
        if missing:
            raise ArtifactNotFoundError(
                missing[0], "record it (finish_execution new_artifacts) before referencing it"
            )

    @staticmethod
    def _tags_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
        if len(result) == 1:  # one run (get_run, finish_run): an equality, no IN expansion
            (only,) = result
            for key, value in conn.execute(_TAGS_OF_ONE, {"run_id": only}):
                result[only][key] = value
            return result
        for chunk in _chunks(list(run_ids)):
            for run_id, key, value in conn.execute(
                sa.select(tags_table.c.run_id, tags_table.c.key, tags_table.c.value).where(
                    tags_table.c.run_id.in_(chunk)
                )
            ):
                result[run_id][key] = value
        return result

    # -- pipelines and runs ----------------------------------------------------------------------
    def upsert_pipeline(self, name: str, version: str, spec: Mapping[str, Any]) -> Pipeline:
        with self._write() as conn:
            conn.execute(
                self._insert(pipelines)
                .values(name=name, version=version, spec=dict(spec), created_at=utc_now())
                .on_conflict_do_nothing(index_elements=["name", "version"])
            )
            row = conn.execute(
                sa.select(pipelines).where(pipelines.c.name == name, pipelines.c.version == version)
            ).one()
        return rows.pipeline_from_row(row._mapping)

    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        name: str | None = None,
        pipeline_name: str | None = None,
        pipeline_version: str | None = None,
        pipeline_params: Mapping[str, Any] | None = None,
        trigger: str | None = None,
        environment: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        host: str | None = None,
        pid: int | None = None,
        options: Mapping[str, Any] | None = None,
        leased: bool = True,
    ) -> Run:
        now = utc_now()
        run = Run(
            id=run_id or new_id(),
            experiment=experiment,
            state=RunState.RUNNING,
            started_at=now,
            name=name,
            pipeline_name=pipeline_name,
            pipeline_version=pipeline_version,
            pipeline_params=dict(pipeline_params or {}),
            trigger=trigger,
            environment=environment,
            parent_run_id=parent_run_id,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            heartbeat_at=now if leased else None,
            host=host,
            pid=None if pid is None else int(pid),
            options=dict(options or {}),
        )

        def write(tx: Any) -> None:  # the row and its tags: one transaction
            insert_run(tx, run)
            insert_tags(tx, [(run.id, k, v) for k, v in run.tags.items()])

        try:
            self.lane.run(write)
        except sa.exc.IntegrityError as exc:
            raise ValidationError(
                f"run id {run.id!r} already exists; leave run_id unset to get a fresh one"
            ) from exc
        return run

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                row = self._by_prefix(conn, run_id)
            return rows.run_from_row(row._mapping, self._tags_of(conn, [row.id])[row.id])

    @staticmethod
    def _by_prefix(conn: sa.Connection, prefix: str) -> sa.Row[Any]:
        prefix = prefix.lower()
        if len(prefix) < MIN_PREFIX or not _ID_CHARS.match(prefix):
            raise RunNotFoundError(prefix)
        found = conn.execute(
            sa.select(runs).where(runs.c.id.startswith(prefix, autoescape=True)).limit(5)
        ).all()
        if not found:
            raise RunNotFoundError(prefix)
        if len(found) > 1:
            ids = ", ".join(r.id for r in found)
            raise ValidationError(
                f"run id prefix {prefix!r} is ambiguous: it matches runs {ids}; "
                "give more characters of the id"
            )
        return found[0]

    def finish_run(self, run_id: str, state: RunState, *, error: str | None = None) -> Run:
        state = RunState(state)
        now = utc_now()
        values: dict[str, Any] = {"_id": run_id, "_state": state.value, "_error": error}
        if state.finished:
            statement, values["_ended_at"] = _FINISH_RUN, now
        else:  # reopened for a resume: a fresh lease
            statement, values["_heartbeat_at"] = _REOPEN_RUN, now
        with self._write() as conn:  # the row comes back from the UPDATE: no second read
            row = conn.execute(statement, values).first()
            if row is None:
                raise RunNotFoundError(run_id)
            return rows.run_from_row(row._mapping, self._tags_of(conn, [run_id])[run_id])

    def reopen_run(self, run_id: str, *, host: str | None, pid: int | None) -> Run:
        values = {
            "state": RunState.RUNNING.value,
            "error": None,
            "ended_at": None,
            "heartbeat_at": utc_now(),
            "host": host,
            "pid": None if pid is None else int(pid),
        }
        with self._write() as conn:
            done = conn.execute(runs.update().where(runs.c.id == run_id).values(values))
            if done.rowcount == 0:
                raise RunNotFoundError(run_id)
        return self.get_run(run_id)

    def abandon_runs(self, run_ids: Sequence[str]) -> list[str]:
        now = utc_now()
        marked: list[str] = []
        with self._write() as conn:
            for chunk in _chunks(list(run_ids)):
                marked += conn.scalars(
                    runs.update()
                    .where(runs.c.id.in_(chunk), runs.c.state == RunState.RUNNING.value)
                    .values(state=RunState.ABANDONED.value, ended_at=now)
                    .returning(runs.c.id)
                )
            self._abandon_executions(conn, marked, now)
        return sorted(marked)

    @staticmethod
    def _abandon_executions(conn: sa.Connection, run_ids: list[str], now: datetime) -> None:
        for chunk in _chunks(run_ids):
            conn.execute(
                executions.update()
                .where(
                    executions.c.run_id.in_(chunk),
                    executions.c.state.in_(
                        [ExecutionState.RUNNING.value, ExecutionState.PENDING.value]
                    ),
                )
                .values(state=ExecutionState.ABANDONED.value, ended_at=now)
            )

    def search_runs(
        self,
        *,
        experiment: str | None = None,
        pipeline_name: str | None = None,
        states: Sequence[RunState] | None = None,
        metric_filters: Sequence[MetricFilter] = (),
        order_by: str = "started_at",
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
        include_data: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> list[Run]:
        query = search_statement(
            experiment=experiment,
            pipeline_name=pipeline_name,
            states=states,
            metric_filters=metric_filters,
            tags=tags,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        with self._read() as conn:
            found = conn.execute(query).all()
            ids = [r.id for r in found]
            run_tags = self._tags_of(conn, ids)
            if include_data:
                run_params, run_metrics = self._params_of(conn, ids), self._metrics_of(conn, ids)
        runs_found = [rows.run_from_row(r._mapping, run_tags[r.id]) for r in found]
        if not include_data:
            return runs_found
        return [
            dataclasses.replace(r, params=run_params[r.id], metrics=run_metrics[r.id])
            for r in runs_found
        ]

    @staticmethod
    def _params_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
        table = params_table
        for chunk in _chunks(list(run_ids)):
            query = sa.select(table.c.run_id, table.c.key, table.c.value).where(
                table.c.run_id.in_(chunk)
            )
            for run_id, key, value in conn.execute(query.order_by(table.c.key)):
                result[run_id][key] = value
        return result

    @staticmethod
    def _metrics_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
        lm = latest_metrics
        for chunk in _chunks(list(run_ids)):
            query = sa.select(lm.c.run_id, lm.c.key, lm.c.value).where(lm.c.run_id.in_(chunk))
            for run_id, key, value in conn.execute(query):
                result[run_id][key] = rows.decode_value(value)
        return result

    def heartbeat(self, run_id: str) -> None:
        now = utc_now()
        with self._write() as conn:
            done = conn.execute(runs.update().where(runs.c.id == run_id).values(heartbeat_at=now))
            if done.rowcount == 0:
                raise RunNotFoundError(run_id)
            conn.execute(
                executions.update()
                .where(
                    executions.c.run_id == run_id,
                    executions.c.state == ExecutionState.RUNNING.value,
                )
                .values(heartbeat_at=now)
            )

    def reap_abandoned(self, lease_seconds: float, *, now: datetime | None = None) -> list[str]:
        now = as_utc(now) if now is not None else utc_now()
        cutoff = now - timedelta(seconds=lease_seconds)
        with self._write() as conn:
            reaped = list(
                conn.scalars(
                    runs.update()
                    .where(
                        runs.c.state == RunState.RUNNING.value,
                        runs.c.heartbeat_at.is_not(None),  # a run without a lease is not reaped
                        runs.c.heartbeat_at < cutoff,
                    )
                    .values(state=RunState.ABANDONED.value, ended_at=now)
                    .returning(runs.c.id)
                )
            )
            self._abandon_executions(conn, reaped, now)
        return sorted(reaped)

    # -- executions, artifacts, events -----------------------------------------------------------
    def create_execution(
        self,
        run_id: str,
        step_name: str,
        *,
        state: ExecutionState = ExecutionState.RUNNING,
        code_digest: str | None = None,
        cache_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | None = None,
        cached_from: str | None = None,
        input_artifacts: Sequence[Artifact] = (),
    ) -> Execution:
        state = ExecutionState(state)
        now = utc_now()
        final = state not in (ExecutionState.PENDING, ExecutionState.RUNNING)
        row = {
            "id": new_id(),
            "run_id": run_id,
            "step_name": step_name,
            "state": state.value,
            "code_digest": code_digest,
            "cache_key": cache_key,
            "params": dict(params or {}),
            "created_at": now,
            "started_at": None if state is ExecutionState.PENDING else now,
            "ended_at": now if final else None,
            "heartbeat_at": now if state is ExecutionState.RUNNING else None,
            "attempts": 0,
            "error": None,
            "log_uri": None,
            "cached_from": cached_from,
        }
        # Hot path (once per step): the foreign keys check the run and the inputs; only when
        # they refuse do we look up which one is missing, to raise the precise error.
        try:
            with self._write() as conn:
                if input_artifacts:
                    conn.execute(
                        self._insert(artifacts).on_conflict_do_nothing(index_elements=["id"]),
                        [rows.artifact_to_row(a) for a in input_artifacts],
                    )
                conn.execute(_INSERT_EXECUTION, row)
                if inputs:
                    conn.execute(
                        _INSERT_EVENTS,
                        [
                            {
                                "execution_id": row["id"],
                                "artifact_id": a,
                                "kind": EventKind.INPUT.value,
                                "name": n,
                            }
                            for n, a in inputs.items()
                        ],
                    )
        except sa.exc.IntegrityError as exc:
            with self._read() as conn:
                self._require_run(conn, run_id)
                self._require_artifacts(conn, (inputs or {}).values())
            raise StoreError(f"recording execution of {step_name!r} failed: {exc.orig}") from exc
        return rows.execution_from_row(row)

    def finish_execution(
        self,
        execution_id: str,
        state: ExecutionState,
        *,
        new_artifacts: Sequence[Artifact] = (),
        outputs: Mapping[str, str] | None = None,
        error: str | None = None,
        attempts: int | None = None,
        log_uri: str | None = None,
    ) -> Execution:
        state = ExecutionState(state)
        values: dict[str, Any] = {"state": state.value, "error": error}
        if state not in (ExecutionState.PENDING, ExecutionState.RUNNING):
            values["ended_at"] = utc_now()
        if attempts is not None:
            values["attempts"] = attempts
        if log_uri is not None:
            values["log_uri"] = log_uri
        fresh = {a.id for a in new_artifacts}
        try:
            with self._write() as conn:
                updated = conn.execute(
                    _FINISH_EXECUTION, {"_execution_id": execution_id, **values}
                ).first()
                if updated is None:
                    raise ExecutionNotFoundError(execution_id)
                if new_artifacts:
                    conn.execute(
                        _INSERT_ARTIFACTS, [rows.artifact_to_row(a) for a in new_artifacts]
                    )
                if outputs:
                    self._require_artifacts(conn, set(outputs.values()) - fresh)
                    conn.execute(
                        _INSERT_EVENTS,
                        [
                            {
                                "execution_id": execution_id,
                                "artifact_id": a,
                                "kind": EventKind.OUTPUT.value,
                                "name": n,
                            }
                            for n, a in outputs.items()
                        ],
                    )
        except sa.exc.IntegrityError as exc:
            raise StoreError(
                f"finishing execution {execution_id} conflicts with rows already recorded "
                f"(an artifact id or output name used twice); nothing was written: {exc.orig}"
            ) from exc
        return rows.execution_from_row(updated._mapping)

    def get_execution(self, execution_id: str) -> Execution:
        with self._read() as conn:
            row = conn.execute(sa.select(executions).where(executions.c.id == execution_id)).first()
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        return rows.execution_from_row(row._mapping)

    def list_executions(self, run_id: str) -> list[Execution]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            found = conn.execute(
                sa.select(executions)
                .where(executions.c.run_id == run_id)
                .order_by(executions.c.created_at, executions.c.id)
            ).all()
        return [rows.execution_from_row(r._mapping) for r in found]

    def find_cached(self, cache_key: str) -> Execution | None:
        with self._read() as conn:
            row = conn.execute(_FIND_CACHED, {"_cache_key": cache_key}).first()
        return None if row is None else rows.execution_from_row(row._mapping)

    def get_artifact(self, artifact_id: str) -> Artifact:
        with self._read() as conn:
            row = conn.execute(sa.select(artifacts).where(artifacts.c.id == artifact_id)).first()
        if row is None:
            raise ArtifactNotFoundError(artifact_id)
        return rows.artifact_from_row(row._mapping)

    def find_artifacts(self, uris: Sequence[str]) -> list[Artifact]:
        found: list[Artifact] = []
        with self._read() as conn:
            for chunk in _chunks(list(dict.fromkeys(uris))):
                found += (
                    rows.artifact_from_row(r._mapping)
                    for r in conn.execute(sa.select(artifacts).where(artifacts.c.uri.in_(chunk)))
                )
        return sorted(found, key=lambda a: (a.created_at, a.id))

    def list_events(
        self, *, execution_id: str | None = None, artifact_id: str | None = None
    ) -> list[Event]:
        if (execution_id is None) == (artifact_id is None):
            raise ValidationError("list_events takes exactly one of execution_id or artifact_id")
        with self._read() as conn:
            if execution_id is not None:
                exists = sa.select(executions.c.id).where(executions.c.id == execution_id)
                if conn.execute(exists).first() is None:
                    raise ExecutionNotFoundError(execution_id)
                where = events.c.execution_id == execution_id
            else:
                exists = sa.select(artifacts.c.id).where(artifacts.c.id == artifact_id)
                if conn.execute(exists).first() is None:
                    raise ArtifactNotFoundError(str(artifact_id))
                where = events.c.artifact_id == artifact_id
            found = conn.execute(
                sa.select(events)
                .where(where)
                .order_by(events.c.execution_id, events.c.kind, events.c.name)
            ).all()
        return [rows.event_from_row(r._mapping) for r in found]

    # -- tracking --------------------------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        wanted = {str(k): str(v) for k, v in params.items()}
        if not wanted:
            return
        try:  # an unknown run breaks the foreign key: no read needed to find out
            self.lane.run(lambda tx: insert_params(tx, {run_id: wanted}))
        except sa.exc.IntegrityError:
            raise RunNotFoundError(run_id) from None

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        if not metrics:
            return
        try:  # as for params: the foreign key finds an unknown run
            self.lane.run(lambda tx: insert_metrics(tx, [(run_id, metrics)]))
        except sa.exc.IntegrityError:
            raise RunNotFoundError(run_id) from None

    def record_runs(self, writes: Sequence[RunWrites]) -> None:
        """Every write of ``writes`` in one transaction (see ``tracking_writes.write_runs``):
        all of it lands, or none of it and the error is raised."""
        todo = [w for w in writes if w]
        if not todo:
            return
        try:
            self.lane.run(lambda tx: write_runs(tx, todo))
        except sa.exc.IntegrityError as exc:
            ids = ", ".join(sorted({w.run_id for w in todo if w.create is not None})) or "none"
            raise ValidationError(
                f"recording tracking writes conflicts with rows already stored (a run id used "
                f"twice? new runs: {ids}); nothing was written: {exc.orig}"
            ) from exc

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        wanted = {str(k): str(v) for k, v in tags.items()}
        if not wanted:
            return
        try:  # as for params: the foreign key finds an unknown run
            self.lane.run(lambda tx: insert_tags(tx, [(run_id, k, v) for k, v in wanted.items()]))
        except sa.exc.IntegrityError:
            raise RunNotFoundError(run_id) from None

    def get_params(self, run_id: str) -> dict[str, str]:
        table = params_table
        with self._read() as conn:
            self._require_run(conn, run_id)
            found = conn.execute(
                sa.select(table.c.key, table.c.value)
                .where(table.c.run_id == run_id)
                .order_by(table.c.key)
            ).all()
        return dict(found)

    def get_metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        table = metrics_table
        query = sa.select(table).where(table.c.run_id == run_id)
        if key is not None:
            query = query.where(table.c.key == key)
        with self._read() as conn:
            self._require_run(conn, run_id)
            found = conn.execute(
                query.order_by(table.c.key, table.c.step, table.c.timestamp, table.c.id)
            ).all()
        return [rows.metric_from_row(r._mapping) for r in found]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
        lm = latest_metrics
        with self._read() as conn:
            for chunk in _chunks(list(result)):
                for run_id, key, value in conn.execute(
                    sa.select(lm.c.run_id, lm.c.key, lm.c.value).where(lm.c.run_id.in_(chunk))
                ):
                    result[run_id][key] = rows.decode_value(value)
        return result

    # -- retention (mloop gc) -------------------------------------------------------------------
    def mark_artifacts_collected(self, artifact_ids: Sequence[str], *, at: datetime) -> None:
        """Set ``properties["collected_at"]`` (ISO-8601 UTC) on each artifact whose content was
        deleted, in one transaction; the rows, events and digests stay for lineage."""
        from mloop.metadata.base import COLLECTED_AT

        if not artifact_ids:
            return
        stamp = as_utc(at).isoformat()
        with self._write() as conn:
            found = conn.execute(
                sa.select(artifacts.c.id, artifacts.c.properties).where(
                    artifacts.c.id.in_(list(artifact_ids))
                )
            ).all()
            for artifact_id, properties in found:
                updated = {**(properties or {}), COLLECTED_AT: stamp}
                conn.execute(
                    sa.update(artifacts)
                    .where(artifacts.c.id == artifact_id)
                    .values(properties=updated)
                )


_FINISH_RUN = (
    runs.update()
    .where(runs.c.id == sa.bindparam("_id"))
    .values(
        state=sa.bindparam("_state"),
        error=sa.bindparam("_error"),
        ended_at=sa.bindparam("_ended_at"),
    )
    .returning(*runs.c)
)
_REOPEN_RUN = (
    runs.update()
    .where(runs.c.id == sa.bindparam("_id"))
    .values(
        state=sa.bindparam("_state"),
        error=sa.bindparam("_error"),
        ended_at=None,
        heartbeat_at=sa.bindparam("_heartbeat_at"),
    )
    .returning(*runs.c)
)
_TAGS_OF_ONE = sa.select(tags_table.c.key, tags_table.c.value).where(
    tags_table.c.run_id == sa.bindparam("run_id")
)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
