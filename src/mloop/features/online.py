"""Online reads: entity rows in, the newest feature values out, with their times and statuses.

The same plan as offline retrieval (``retrieval.plan_retrieval``) decides which views and
on-demand views a request touches, and the same on-demand functions run on the values read, so
serving computes features exactly as training did. A value older than its view's ttl comes back
as None with status ``outside_ttl``, as offline retrieval gives null for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from mloop.errors import MissingJoinKeyError, ValidationError
from mloop.features.definitions import FeatureView
from mloop.features.online_stores.base import OnlineStore, encode_entity_key
from mloop.features.retrieval import RetrievalPlan

_INT_TYPES = ("int64", "int32")


class FieldStatus(str, Enum):
    """Per value: found and fresh, not stored, or stored but older than the view's ttl."""

    PRESENT = "present"
    NOT_FOUND = "not_found"
    OUTSIDE_TTL = "outside_ttl"

    @property
    def feast_name(self) -> str:
        """The status name Feast's feature server answers with."""
        return {"present": "PRESENT", "not_found": "NOT_FOUND", "outside_ttl": "OUTSIDE_MAX_AGE"}[
            self.value
        ]


class OnlineResponse:
    """Columns of values, with per-value statuses and event times (UTC datetimes or None)."""

    def __init__(
        self,
        columns: dict[str, list[Any]],
        statuses: dict[str, list[FieldStatus]],
        event_timestamps: dict[str, list[datetime | None]],
    ) -> None:
        self.columns = columns
        self.statuses = statuses
        self.event_timestamps = event_timestamps

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """``{column: [values]}``: the join keys, then the features in request order; with
        ``include_event_timestamps``, also ``{feature}__event_timestamp`` columns."""
        out = dict(self.columns)
        if include_event_timestamps:
            for name, stamps in self.event_timestamps.items():
                out[f"{name}__event_timestamp"] = stamps
        return out

    def to_feast_json(self) -> dict[str, Any]:
        """The body Feast's ``/get-online-features`` answers with."""
        names = list(self.columns)
        results = []
        for name in names:
            values = self.columns[name]
            statuses = self.statuses.get(name) or [FieldStatus.PRESENT] * len(values)
            stamps = self.event_timestamps.get(name) or [None] * len(values)
            results.append(
                {
                    "values": values,
                    "statuses": [s.feast_name for s in statuses],
                    "event_timestamps": [
                        (s.isoformat() if s else "1970-01-01T00:00:00Z") for s in stamps
                    ],
                }
            )
        return {"metadata": {"feature_names": names}, "results": results}


def coerce_key(value: Any, dtype: str, column: str) -> Any:
    """A join-key value as its entity's dtype (``"7"`` for an int64 key is 7)."""
    try:
        if dtype in _INT_TYPES:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if dtype == "string":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"join key {column!r}: {value!r} is not a valid {dtype}; send it as a {dtype}"
        ) from exc
    return value


def _key_dtypes(view: FeatureView) -> list[tuple[str, str]]:
    return [(k, e.value_type) for e in view.entities for k in e.join_keys or ()]


def normalize_entity_rows(entity_rows: Any) -> list[Mapping[str, Any]]:
    """Feast accepts a list of dicts; a dict of equal-length lists works too."""
    if isinstance(entity_rows, Mapping):
        lengths = {len(v) for v in entity_rows.values()}
        if len(lengths) > 1:
            raise ValidationError("entity columns must all have the same length")
        n = lengths.pop() if lengths else 0
        return [{k: v[i] for k, v in entity_rows.items()} for i in range(n)]
    if isinstance(entity_rows, Sequence) and all(isinstance(r, Mapping) for r in entity_rows):
        return list(entity_rows)
    raise ValidationError(
        "entity_rows must be a list of dicts ([{'origin': 'JFK'}]) or a dict of lists"
    )


def read_online_features(
    online: OnlineStore,
    plan: RetrievalPlan,
    entity_rows: Sequence[Mapping[str, Any]],
    *,
    now: float | None = None,
) -> OnlineResponse:
    """Read every view the plan touches, then compute its on-demand features."""
    now = time.time() if now is None else now
    n = len(entity_rows)
    columns: dict[str, list[Any]] = {}
    statuses: dict[str, list[FieldStatus]] = {}
    stamps: dict[str, list[datetime | None]] = {}
    for key in plan.join_keys:
        columns[key] = [row.get(key) for row in entity_rows]
    for request in plan.views:
        view = request.view
        keys = []
        for key_name, _ in _key_dtypes(view):
            if any(key_name not in row for row in entity_rows):
                raise MissingJoinKeyError([key_name], f"entity rows for view {view.name!r}")
        for row in entity_rows:
            keys.append(encode_entity_key([coerce_key(row[k], d, k) for k, d in _key_dtypes(view)]))
        stored = online.read(view.name, keys, request.features)
        max_age = None if view.ttl is None else view.ttl.total_seconds()
        row_status: list[FieldStatus] = []
        row_stamp: list[datetime | None] = []
        per_feature: list[list[Any]] = [[] for _ in request.features]
        for hit in stored:
            if hit is None:
                row_status.append(FieldStatus.NOT_FOUND)
                row_stamp.append(None)
                for col in per_feature:
                    col.append(None)
                continue
            values, ts = hit
            row_stamp.append(datetime.fromtimestamp(ts, timezone.utc))
            if max_age is not None and now - ts > max_age:
                row_status.append(FieldStatus.OUTSIDE_TTL)
                for col in per_feature:
                    col.append(None)
            else:
                row_status.append(FieldStatus.PRESENT)
                for col, value in zip(per_feature, values, strict=True):
                    col.append(value)
        for out, values in zip(request.outputs, per_feature, strict=True):
            columns[out] = values
            statuses[out] = row_status
            stamps[out] = row_stamp
    if plan.on_demand:
        _apply_on_demand(plan, entity_rows, columns, statuses, stamps, n)
    ordered = {k: columns[k] for k in plan.join_keys}
    for name in plan.columns:
        ordered[name] = columns[name]
    return OnlineResponse(
        ordered,
        {k: statuses[k] for k in plan.columns},
        {k: stamps[k] for k in plan.columns},
    )


def _apply_on_demand(
    plan: RetrievalPlan,
    entity_rows: Sequence[Mapping[str, Any]],
    columns: dict[str, list[Any]],
    statuses: dict[str, list[FieldStatus]],
    stamps: dict[str, list[datetime | None]],
    n: int,
) -> None:
    from mloop.features.on_demand import run_on_demand

    frame_columns = dict(columns)
    for odfv, _, _ in plan.on_demand:
        for f in odfv.request_fields:
            if any(f.name not in row for row in entity_rows):
                raise MissingJoinKeyError(
                    [f.name], f"request data for on-demand view {odfv.name!r}"
                )
            frame_columns[f.name] = [row[f.name] for row in entity_rows]
    computed = run_on_demand(plan, frame_columns)
    for name in computed.columns:
        columns[name] = computed[name].to_list()
        statuses[name] = [FieldStatus.PRESENT] * n
        stamps[name] = [None] * n
