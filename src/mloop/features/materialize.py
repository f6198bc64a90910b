"""Materialization and push: move the newest offline rows into the online store.

``materialize_view`` loads each entity's newest row in ``[start, end]`` and writes it with the
view's new watermark in one atomic unit (see ``online_stores/base.py``); running it twice, or
again after a crash, gives the same online state. ``push_rows`` appends streamed rows to the
offline push log first (so training sets see them) and then writes them online.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mloop.errors import MissingJoinKeyError, TimestampTypeError
from mloop.features.definitions import FeatureView
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.online_stores.base import OnlineRows, OnlineStore

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


@dataclass(frozen=True)
class MaterializeResult:
    """One view's materialization: rows written, the window, the watermark it left (UTC)."""

    view: str
    rows: int
    start: datetime
    end: datetime


def as_utc(value: Any, what: str) -> datetime:
    """A datetime as aware UTC (naive is taken as UTC); raises for anything else."""
    if not isinstance(value, datetime):
        raise TimestampTypeError(what, type(value).__name__, "materialize")
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def _key_strings(view: FeatureView, table: pa.Table) -> list[str]:
    """Storage keys (see ``encode_entity_key``), built column-wise for speed."""
    parts = []
    for entity in view.entities:
        for key in entity.join_keys or ():
            column = table.column(key)
            if entity.value_type in ("int64", "int32"):
                column = column.cast(pa.int64())
            parts.append(column.cast(pa.string()))
    if len(parts) == 1:
        return parts[0].to_pylist()
    return pc.binary_join_element_wise(*parts, "\x1f").to_pylist()


def _epoch_seconds(column: pa.ChunkedArray) -> list[float]:
    micros = column.cast(pa.timestamp("us", "UTC")).cast(pa.int64())
    return pc.divide(micros.cast(pa.float64()), 1_000_000.0).to_pylist()


def to_online_rows(view: FeatureView, table: pa.Table, ts_column: str) -> OnlineRows:
    names = view.feature_names
    values = list(zip(*(table.column(n).to_pylist() for n in names), strict=True))
    return OnlineRows(
        names, _key_strings(view, table), _epoch_seconds(table.column(ts_column)), values
    )


def materialize_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: FeatureView,
    start: datetime,
    end: datetime,
) -> MaterializeResult:
    """Write each entity's newest row with ``start <= event time <= end``; the view's watermark
    becomes ``end`` (never moves back) in the same atomic unit."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    table = offline.pull_latest(view, start, end)
    rows = to_online_rows(view, table, "__mloop_ts")
    previous = online.get_watermark(view.name)
    mark = max(end.timestamp(), previous) if previous is not None else end.timestamp()
    online.write_batch(view.name, rows, watermark=mark)
    return MaterializeResult(view.name, len(rows), start, end)


def incremental_start(online: OnlineStore, view: FeatureView, end: datetime) -> datetime:
    """Where ``materialize_incremental`` starts: the watermark, else ``end - ttl``, else 1970."""
    mark = online.get_watermark(view.name)
    if mark is not None:
        return datetime.fromtimestamp(mark, timezone.utc)
    if view.ttl is not None:
        return max(EPOCH, as_utc(end, "end") - view.ttl)
    return EPOCH


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
