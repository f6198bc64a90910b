"""``DuckDBOfflineStore``: point-in-time joins executed by DuckDB over Parquet, CSV and SQL tables.

Results come back as Arrow (no pandas objects are built unless asked for). Event times are
compared in one SQL type: naive timestamps are taken as UTC, and when the entity rows and a source
differ (naive vs aware, ns vs us) the side that differs is cast. Pushed rows live in
``<log_dir>/<view>/*.parquet`` and are read together with the view's source.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from mloop.errors import FeatureDefinitionError, MissingJoinKeyError, StoreError, TimestampTypeError
from mloop.features.definitions import FeatureView
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.retrieval import (
    ROW_ID,
    ViewRequest,
    latest_per_entity_sql,
    point_in_time_sql,
    quote,
)
from mloop.features.sources import DataSource, FileSource, SqlSource

_AWARE = "TIMESTAMP WITH TIME ZONE"
_NAIVE_US = "TIMESTAMP"
_NAIVE_NS = "TIMESTAMP_NS"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBOfflineStoreConfig(BaseModel):
    """``log_dir``: where pushed rows are kept (relative to the feature repository)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["duckdb"] = "duckdb"
    log_dir: str = ".mloop/features/push_log"


class DuckDBOfflineStore(OfflineStore):
    """Offline store for a feature repository at ``repo_path``; ``log_dir`` holds pushed rows."""

    name: ClassVar[str] = "duckdb"
    Config: ClassVar[type[BaseModel]] = DuckDBOfflineStoreConfig

    def __init__(self, repo_path: str | Path, log_dir: str | Path) -> None:
        self.repo_path = Path(repo_path)
        self.log_dir = Path(log_dir)
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Any, repo_path: Path) -> DuckDBOfflineStore:
        log_dir = Path(config.log_dir)
        return cls(repo_path, log_dir if log_dir.is_absolute() else Path(repo_path) / log_dir)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            self._local.con = con
        return con

    # -- relations ----------------------------------------------------------------------------
    def _source_relation(self, con: duckdb.DuckDBPyConnection, source: DataSource) -> str:
        if isinstance(source, FileSource):
            path = Path(source.path)
            path = path if path.is_absolute() else self.repo_path / path
            if not path.exists():
                raise StoreError(
                    f"feature source {str(path)!r} does not exist; check the FileSource path "
                    "(relative paths are read from the feature repository folder)"
                )
            if source.format == "csv":
                return f"read_csv({_sql_string(str(path))}, auto_detect = true)"
            if path.is_dir():
                target = _sql_string(str(path / "**" / "*.parquet"))
                return f"read_parquet({target}, union_by_name = true)"
            return f"read_parquet({_sql_string(str(path))})"
        if isinstance(source, SqlSource):
            return self._register_sql(con, source)
        raise FeatureDefinitionError(f"the DuckDB offline store cannot read {source!r}")

    def _register_sql(self, con: duckdb.DuckDBPyConnection, source: SqlSource) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(source.url)
        try:
            with engine.connect() as conn:
                if source.query:
                    query: Any = sa.text(source.query)
                else:  # reflected, so that DATETIME columns come back as datetimes
                    query = sa.select(
                        sa.Table(source.table or "", sa.MetaData(), autoload_with=conn)
                    )
                result = conn.execute(query)
                names = list(result.keys())
                rows = result.fetchall()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read SqlSource {source.table or source.query!r}: {exc}"
            ) from exc
        finally:
            engine.dispose()
        table = pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)})
        name = f"sql_{uuid.uuid4().hex}"
        con.register(name, table)
        return name

    def _view_relation(self, con: duckdb.DuckDBPyConnection, view: FeatureView) -> str:
        """The view's source, plus its push log when rows were pushed, as one relation."""
        relation = self._source_relation(con, view.source)
        log = self.log_dir / view.name
        if not (log.is_dir() and any(log.glob("*.parquet"))):
            return relation
        cols = [*view.join_keys, view.timestamp_field or "", *view.feature_names]
        if view.created_timestamp_field:
            cols.append(view.created_timestamp_field)
        listed = ", ".join(quote(c) for c in cols)
        pushed = f"read_parquet({_sql_string(str(log / '*.parquet'))}, union_by_name = true)"
        return f"(SELECT {listed} FROM {relation} UNION ALL BY NAME SELECT {listed} FROM {pushed})"

    @staticmethod
    def _column_type(con: duckdb.DuckDBPyConnection, relation: str, column: str, where: str) -> str:
        try:
            kind = str(con.sql(f"SELECT {quote(column)} FROM {relation} LIMIT 0").types[0])
        except duckdb.BinderException as exc:
            raise MissingJoinKeyError([column], where) from exc
        if not is_event_time_type(kind):
            raise TimestampTypeError(column, kind, where)
        return kind

    @staticmethod
    def _check_columns(
        con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str], where: str
    ) -> None:
        have = set(con.sql(f"SELECT * FROM {relation} LIMIT 0").columns)
        missing = [c for c in columns if c not in have]
        if missing:
            raise MissingJoinKeyError(missing, where)

    # -- OfflineStore -------------------------------------------------------------------------
    def get_historical_features(
        self, entity_rows: pa.Table, event_timestamp_column: str, requests: Sequence[ViewRequest]
    ) -> pa.Table:
        con = self._connection()
        keys = sorted({k for r in requests for k in r.view.join_keys})
        missing = [c for c in [*keys, event_timestamp_column] if c not in entity_rows.column_names]
        if missing:
            raise MissingJoinKeyError(missing, "the entity rows")
        rows = entity_rows.append_column(ROW_ID, pa.array(np.arange(entity_rows.num_rows)))
        name = f"entity_{uuid.uuid4().hex}"
        con.register(name, rows)
        try:
            entity_type = self._column_type(con, name, event_timestamp_column, "the entity rows")
            relations, types = [], []
            for request in requests:
                view = request.view
                relation = self._view_relation(con, view)
                where = f"the source of feature view {view.name!r}"
                self._check_columns(con, relation, [*view.join_keys, *request.features], where)
                types.append(self._column_type(con, relation, view.timestamp_field or "", where))
                relations.append(relation)
            target = common_event_time_type([entity_type, *types])
            try:
                joined = self._join(
                    con,
                    name,
                    event_timestamp_column,
                    entity_type,
                    requests,
                    relations,
                    types,
                    target,
                )
            except (duckdb.ConversionException, duckdb.OutOfRangeException):
                if target != _NAIVE_NS:
                    raise
                # a value outside the nanosecond range (e.g. a 9999-12-31 sentinel): compare
                # in microseconds instead (sub-microsecond order is then not kept)
                joined = self._join(
                    con,
                    name,
                    event_timestamp_column,
                    entity_type,
                    requests,
                    relations,
                    types,
                    _NAIVE_US,
                )
        finally:
            con.unregister(name)
        return _with_entity_columns(entity_rows, joined)

    @staticmethod
    def _join(
        con: duckdb.DuckDBPyConnection,
        entity_relation: str,
        event_timestamp_column: str,
        entity_type: str,
        requests: Sequence[ViewRequest],
        relations: Sequence[str],
        types: Sequence[str],
        target: str,
    ) -> pa.Table:
        query = point_in_time_sql(
            entity_relation,
            [ROW_ID],
            event_time_sql(quote(event_timestamp_column), entity_type, target),
            requests,
            relations,
            [
                event_time_sql(quote(r.view.timestamp_field or ""), t, target)
                for r, t in zip(requests, types, strict=True)
            ],
        )
        return con.sql(query).to_arrow_table()

    def pull_latest(
        self,
        view: FeatureView,
        start: datetime,
        end: datetime,
        *,
        created_after: datetime | None = None,
    ) -> pa.Table:
        con = self._connection()
        relation = self._view_relation(con, view)
        where = f"the source of feature view {view.name!r}"
        self._check_columns(con, relation, [*view.join_keys, *view.feature_names], where)
        kind = self._column_type(con, relation, view.timestamp_field or "", where)
        ts = event_time_sql(quote(view.timestamp_field or ""), kind, _AWARE)
        created = None
        if view.created_timestamp_field:
            column = view.created_timestamp_field
            created_kind = self._column_type(con, relation, column, where)
            created = event_time_sql(quote(column), created_kind, _AWARE)
        query = latest_per_entity_sql(
            view,
            relation,
            ts,
            _ts_literal(start),
            _ts_literal(end),
            created_expr=created,
            created_after_literal=None if created_after is None else _ts_literal(created_after),
        )
        table = con.sql(query).to_arrow_table()
        if view.created_timestamp_field is None:  # a typed null column, not DuckDB's NULL type
            position = table.column_names.index("__mloop_created")
            table = table.set_column(
                position,
                pa.field("__mloop_created", pa.timestamp("us", "UTC")),
                pa.nulls(table.num_rows, pa.timestamp("us", "UTC")),
            )
        return table

    def sample_entities(self, view: FeatureView, n: int, *, seed: int = 0) -> pa.Table:
        con = self._connection()
        relation = self._view_relation(con, view)
        self._check_columns(
            con, relation, list(view.join_keys), f"the source of feature view {view.name!r}"
        )
        keys = ", ".join(quote(k) for k in view.join_keys)
        # The n distinct keys of smallest hash(keys, seed): the same sample for the same seed
        # however the scan is parallelised. (A reservoir sample REPEATABLE(seed) over DISTINCT
        # depends on the order the threads hand rows over: on DuckDB 1.0 it changed between runs.)
        query = (
            f"SELECT * FROM (SELECT * FROM (SELECT DISTINCT {keys} FROM {relation}) "
            f"ORDER BY hash({keys}, {int(seed)}), {keys} LIMIT {int(n)}) ORDER BY {keys}"
        )
        return con.sql(query).to_arrow_table()

    def append_log(self, view: FeatureView, rows: pa.Table) -> str:
        folder = self.log_dir / view.name
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        final = folder / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(rows, tmp, compression="zstd")
        os.replace(tmp, final)
        return str(final)


def is_event_time_type(kind: str) -> bool:
    """Whether a DuckDB column type can hold event times: every TIMESTAMP flavour DuckDB has
    (seconds to nanoseconds, naive or WITH TIME ZONE, ``TIMESTAMPTZ_NS`` of DuckDB 2) and DATE."""
    return kind == "DATE" or kind.startswith("TIMESTAMP")


def _is_aware(kind: str) -> bool:
    return "TIME ZONE" in kind or kind.startswith(("TIMESTAMPTZ", "TIMESTAMP_TZ"))


def _is_ns(kind: str) -> bool:
    return kind.endswith("_NS")


def common_event_time_type(kinds: Sequence[str]) -> str:
    """The one SQL type every event-time column is compared in.

    Columns that all have one type are compared as they are (no projection). Otherwise they
    are compared as UTC instants in a naive type: nanoseconds (``TIMESTAMP_NS``) when any column
    has nanoseconds, so that no sub-microsecond ordering is lost, else microseconds. Naive
    values are UTC; aware values are converted to UTC (the connection's TimeZone is UTC).
    """
    if len(set(kinds)) == 1 and kinds[0] != "DATE":
        return kinds[0]
    return _NAIVE_NS if any(_is_ns(k) for k in kinds) else _NAIVE_US


def event_time_sql(expr: str, kind: str, target: str) -> str:
    """``expr`` (of DuckDB type ``kind``) as ``target``, keeping the instant (naive = UTC)."""
    if kind == target:
        return expr
    if target == _AWARE:  # naive -> aware reads the value as UTC; ns are rounded to us
        return f"CAST({expr} AS {_AWARE})"
    if _is_aware(kind):  # to UTC wall time first (DuckDB 1.x has no TIMESTAMPTZ -> _NS cast)
        expr = f"CAST({expr} AS {_NAIVE_NS if _is_ns(kind) else _NAIVE_US})"
        kind = _NAIVE_NS if _is_ns(kind) else _NAIVE_US
        if kind == target:
            return expr
    return f"CAST({expr} AS {target})"


def _with_entity_columns(entity_rows: pa.Table, joined: pa.Table) -> pa.Table:
    """The entity rows exactly as given (their dtypes and time zones kept), then the joined
    feature columns; ``joined`` holds one row per entity row, sorted by :data:`ROW_ID`."""
    order = joined.column(ROW_ID)
    expected = pa.array(np.arange(entity_rows.num_rows), order.type)
    rows = entity_rows if order.equals(pa.chunked_array([expected])) else entity_rows.take(order)
    table = rows
    for name in joined.column_names:
        if name != ROW_ID:
            table = table.append_column(joined.schema.field(name), joined.column(name))
    return table


def _ts_literal(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TimestampTypeError(
            "start/end", type(value).__name__, "materialize", hint="pass a datetime (naive = UTC)"
        )
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return f"TIMESTAMPTZ {_sql_string(aware.astimezone(timezone.utc).isoformat())}"
