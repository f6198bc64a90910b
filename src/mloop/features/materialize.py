"""Materialization and push: move the newest offline rows into the online store.

``materialize_view`` loads each entity's newest row in ``[start, end]`` and writes it with the
view's new watermark in one atomic unit (see ``online_stores/base.py``); running it twice, or
again after a crash, gives the same online state. ``push_rows`` appends streamed rows to the
offline push log first (so training sets see them) and then writes them online.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mloop.errors import MissingJoinKeyError, StaleFeaturesWarning, TimestampTypeError
from mloop.features.definitions import FeatureView
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.online_stores.base import OnlineRows, OnlineStore
from mloop.features.retrieval import quote

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_ARROW_TYPES = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "bytes": pa.binary(),
    "timestamp": pa.timestamp("us", "UTC"),
}


DEFAULT_LOOKBACK = timedelta(days=1)
"""How far behind the watermark ``materialize_incremental`` reads again to catch late rows, for
a view with neither a created-time column nor its own ``materialization_lookback``."""


@dataclass(frozen=True)
class MaterializeResult:
    """One view's materialization: rows written, the window read (UTC), and how many of the
    rows written were already older than the view's ttl (online reads give them as null)."""

    view: str
    rows: int
    start: datetime
    end: datetime
    outside_ttl: int = 0
    late_rows: bool = False  # whether rows created after the last run were read too


def as_utc(value: Any, what: str) -> datetime:
    """A datetime as aware UTC (naive is taken as UTC); raises for anything else."""
    if not isinstance(value, datetime):
        raise TimestampTypeError(
            what, type(value).__name__, "materialize", hint="pass a datetime (naive = UTC)"
        )
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def _key_sql(view: FeatureView) -> str:
    """The storage key (see ``encode_entity_key``) as a DuckDB expression."""
    parts = []
    for entity in view.entities:
        for key in entity.join_keys or ():
            column = quote(key)
            if entity.value_type in ("int64", "int32"):
                column = f"CAST({column} AS BIGINT)"
            parts.append(f"CAST({column} AS VARCHAR)")
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


def _json_ready(name: str, dtype: str) -> str:
    """A feature column as DuckDB should JSON-encode it: NaN and +-inf (which JSON cannot hold)
    become null, as orjson writes them for rows built from Python values."""
    column = quote(name)
    if dtype in ("float32", "float64"):
        return f"CASE WHEN isfinite({column}) THEN {column} END"
    return column


def to_online_rows(view: FeatureView, table: pa.Table, ts_column: str) -> OnlineRows:
    """The rows of ``table`` for the online store. Keys, times and the JSON encodings are
    computed by DuckDB over the Arrow table, column-wise, with no per-row Python work. A null
    (or NaN) value is stored as JSON ``null``, so it reads back as None from a stored row."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("batch", table)
    head = con.sql(
        f"SELECT {_key_sql(view)} AS k, epoch_us({quote(ts_column)}) / 1000000.0 AS t FROM batch"
    ).to_arrow_table()
    values = [(quote(f.name), _json_ready(f.name, f.dtype)) for f in view.schema]

    def encode(form: str) -> list[Any]:
        if form == "objects":
            packed = ", ".join(f"{n} := {v}" for n, v in values)
            query = f"SELECT CAST(to_json(struct_pack({packed})) AS VARCHAR) FROM batch"
            return con.sql(query).to_arrow_table().column(0).to_pylist()
        fields = ", ".join(f"coalesce(CAST(to_json({v}) AS VARCHAR), 'null')" for _, v in values)
        return con.sql(f"SELECT {fields} FROM batch").fetchall()

    return OnlineRows(
        view.feature_names,
        head.column("k").to_pylist(),
        head.column("t").to_pylist(),
        encoder=encode,
    )


def created_mark_key(view: str) -> str:
    """Where the online store keeps a view's created-time mark (beside its watermark): the
    newest created time among the rows the last incremental run read. View names cannot hold
    ':', so the key never collides with a view."""
    return f"{view}:created"


def materialize_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: FeatureView,
    start: datetime,
    end: datetime,
    *,
    created_after: datetime | None = None,
    track_created: bool = False,
    now: datetime | None = None,
) -> MaterializeResult:
    """Write each entity's newest row with ``start <= event time <= end`` (and, with
    ``created_after``, rows of any event time up to ``end`` created after it: late rows); the
    view's watermark becomes ``end`` (never moves back) in the same atomic unit. With
    ``track_created``, the newest created time read is stored after that, for the next run.

    Warns ``StaleFeaturesWarning`` when rows written are already older than the view's ttl
    at ``now`` (default: the wall clock, which online reads judge ttl against)."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    table = offline.pull_latest(view, start, end, created_after=created_after)
    rows = to_online_rows(view, table, "__mloop_ts")
    previous = online.get_watermark(view.name)
    mark = max(end.timestamp(), previous) if previous is not None else end.timestamp()
    online.write_batch(view.name, rows, watermark=mark)
    if track_created and table.num_rows:
        newest = pc.max(table.column("__mloop_created")).as_py()
        if newest is not None:
            key = created_mark_key(view.name)
            old = online.get_watermark(key)
            stamp = as_utc(newest, "created time").timestamp()
            online.write_batch(key, _NO_ROWS, watermark=max(stamp, old or stamp))
    stale = count_outside_ttl(view, table, now or datetime.now(timezone.utc))
    if stale:
        warnings.warn(
            StaleFeaturesWarning(view.name, stale, table.num_rows, view.ttl.total_seconds()),  # type: ignore[union-attr]
            stacklevel=3,
        )
    return MaterializeResult(
        view.name, len(rows), start, end, stale, late_rows=created_after is not None
    )


_NO_ROWS = OnlineRows([], [], [], [])


def count_outside_ttl(view: FeatureView, table: pa.Table, now: datetime) -> int:
    """How many rows of a pulled batch (``__mloop_ts``) are older than ``now - ttl``."""
    if view.ttl is None or table.num_rows == 0:
        return 0
    cutoff = pa.scalar(as_utc(now, "now") - view.ttl, pa.timestamp("us", "UTC"))
    times = table.column("__mloop_ts").cast(pa.timestamp("us", "UTC"))
    return int(pc.sum(pc.less(times, cutoff)).as_py() or 0)


def incremental_window(
    online: OnlineStore, view: FeatureView, end: datetime
) -> tuple[datetime, datetime | None]:
    """Where ``materialize_incremental`` starts, and which created time marks late rows.

    A first run starts at ``end - ttl`` (else 1970). Later runs start at the watermark minus
    the view's lookback, so rows that landed late with an event time behind the watermark are
    read again; a view with a created-time column also reads every row created after the last
    run's newest created time, whatever its event time (its lookback defaults to 0, other views'
    to :data:`DEFAULT_LOOKBACK`)."""
    mark = online.get_watermark(view.name)
    if mark is None:
        if view.ttl is not None:
            return max(EPOCH, as_utc(end, "end") - view.ttl), None
        return EPOCH, None
    lookback = view.materialization_lookback
    if lookback is None:
        lookback = timedelta(0) if view.created_timestamp_field else DEFAULT_LOOKBACK
    start = max(EPOCH, datetime.fromtimestamp(mark, timezone.utc) - lookback)
    created = None
    if view.created_timestamp_field:
        stamp = online.get_watermark(created_mark_key(view.name))
        created = EPOCH if stamp is None else datetime.fromtimestamp(stamp, timezone.utc)
    return start, created


def prepare_push(view: FeatureView, table: pa.Table) -> pa.Table:
    """Pushed rows checked and cast to the view's columns (created time defaults to now)."""
    ts = view.timestamp_field or ""
    needed = [*view.join_keys, ts, *view.feature_names]
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise MissingJoinKeyError(missing, f"rows pushed to view {view.name!r}")
    if not pa.types.is_timestamp(table.schema.field(ts).type):
        raise TimestampTypeError(ts, str(table.schema.field(ts).type), f"push to {view.name!r}")
    columns: dict[str, Any] = {}
    for entity in view.entities:
        for key in entity.join_keys or ():
            columns[key] = table.column(key).cast(_ARROW_TYPES[entity.value_type])
    columns[ts] = table.column(ts).cast(pa.timestamp("us", "UTC"))
    for field in view.schema:
        columns[field.name] = table.column(field.name).cast(_ARROW_TYPES[field.dtype])
    created = view.created_timestamp_field
    if created:
        if created in table.column_names:
            columns[created] = table.column(created).cast(pa.timestamp("us", "UTC"))
        else:
            now = datetime.now(timezone.utc)
            columns[created] = pa.array([now] * table.num_rows, pa.timestamp("us", "UTC"))
    return pa.table(columns)


def push_rows(
    offline: OfflineStore, online: OnlineStore | None, view: FeatureView, table: pa.Table
) -> int:
    """Append to the offline log, then (for an online view) write the rows online."""
    rows = prepare_push(view, table)
    if rows.num_rows == 0:
        return 0
    offline.append_log(view, rows)
    if online is not None and view.online:
        online.write_batch(view.name, to_online_rows(view, rows, view.timestamp_field or ""))
    return rows.num_rows
