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
from mloop.features.definitions import parse_reference
from mloop.features.online_stores.base import OnlineStore, encode_entity_key
from mloop.features.retrieval import RetrievalPlan, output_name

_INT_TYPES = ("int64", "int32")


class FieldStatus(str, Enum):
    """Per value: found and fresh, found but null, not stored, or stored but older than the
    view's ttl (judged at the read's time: now, or ``as_of``)."""

    PRESENT = "present"
    NULL_VALUE = "null_value"
    NOT_FOUND = "not_found"
    OUTSIDE_TTL = "outside_ttl"

    @property
    def feast_name(self) -> str:
        """The status name Feast's feature server answers with."""
        return _FEAST_NAMES[self]


_FEAST_NAMES = {
    FieldStatus.PRESENT: "PRESENT",
    FieldStatus.NULL_VALUE: "NULL_VALUE",
    FieldStatus.NOT_FOUND: "NOT_FOUND",
    FieldStatus.OUTSIDE_TTL: "OUTSIDE_MAX_AGE",
}
_SEVERITY = {
    FieldStatus.PRESENT: 0,
    FieldStatus.NULL_VALUE: 1,
    FieldStatus.OUTSIDE_TTL: 2,
    FieldStatus.NOT_FOUND: 3,
}
"""Worse statuses rank higher: an on-demand value takes the worst status of its inputs."""

Group = tuple[tuple[str, ...], list[FieldStatus], list["float | None"]]
"""Output names, one status per row shared by them, one event time per row (epoch s)."""


def value_statuses(statuses: list[FieldStatus], values: list[Any]) -> list[FieldStatus]:
    """Per value: a found row's None (or NaN) value is ``NULL_VALUE``, not ``PRESENT``."""
    present = FieldStatus.PRESENT
    return [
        FieldStatus.NULL_VALUE if s is present and (v is None or v != v) else s
        for s, v in zip(statuses, values, strict=True)
    ]


def worst(statuses: Sequence[FieldStatus]) -> FieldStatus:
    return max(statuses, key=_SEVERITY.__getitem__)


class OnlineResponse:
    """Columns of values, with per-value statuses and event times (UTC datetimes or None).

    Statuses and times are kept per view (one list shared by the view's features) and expanded
    per feature only when asked for, so a read pays for what it returns."""

    def __init__(self, columns: dict[str, list[Any]], groups: list[Group]) -> None:
        self.columns = columns
        self._groups = groups

    @property
    def statuses(self) -> dict[str, list[FieldStatus]]:
        """``{feature: [status per entity row]}`` (see :class:`FieldStatus`)."""
        out: dict[str, list[FieldStatus]] = {}
        for outs, st, _ in self._groups:
            for name in outs:
                values = self.columns.get(name)
                out[name] = st if values is None else value_statuses(st, values)
        return out

    def status_counts(self) -> dict[str, int]:
        """How many returned values have each status, by Feast name (``{"PRESENT": 3,
        "OUTSIDE_MAX_AGE": 1}``); statuses that did not occur are left out. Look here before
        trusting the values: a null may be a stale row (``OUTSIDE_MAX_AGE``), a missing entity
        (``NOT_FOUND``) or a stored null (``NULL_VALUE``)."""
        counts = dict.fromkeys(FieldStatus, 0)
        for name, statuses in self.statuses.items():
            if name in self.columns:
                for status in statuses:
                    counts[status] += 1
        return {_FEAST_NAMES[s]: n for s, n in counts.items() if n}

    @property
    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        out: dict[str, list[datetime | None]] = {}
        for outs, _, stamps in self._groups:
            times = [None if t is None else datetime.fromtimestamp(t, timezone.utc) for t in stamps]
            for name in outs:
                out[name] = times
        return out

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
        statuses, stamps = self.statuses, self.event_timestamps  # per value (NULL_VALUE too)
        names = list(self.columns)
        results = []
        for name in names:
            values = self.columns[name]
            status = statuses.get(name) or [FieldStatus.PRESENT] * len(values)
            times = stamps.get(name) or [None] * len(values)
            results.append(
                {
                    "values": values,
                    "statuses": [s.feast_name for s in status],
                    "event_timestamps": [
                        (t.isoformat() if t else "1970-01-01T00:00:00Z") for t in times
                    ],
                }
            )
        return {
            "metadata": {"feature_names": names, "status_counts": self.status_counts()},
            "results": results,
        }


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


def _key_coercer(dtype: str, column: str) -> Any:
    """A fast function value -> storage key part for one join key."""
    if dtype in _INT_TYPES:

        def as_int(value: Any) -> str:
            if type(value) is int:
                return str(value)
            return str(coerce_key(value, dtype, column))

        return as_int
    if dtype == "string":
        return lambda value: value if type(value) is str else str(value)
    return lambda value: str(coerce_key(value, dtype, column))


def normalize_entity_rows(entity_rows: Any) -> list[Mapping[str, Any]]:
    """Feast accepts a list of dicts; a dict of equal-length lists works too."""
    if type(entity_rows) is list and all(type(r) is dict for r in entity_rows):
        return entity_rows
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


class OnlineReader:
    """A retrieval plan compiled for online reads: key coercion, features and ttl per view are
    worked out once, so a read is the store lookups plus a few list operations."""

    def __init__(self, plan: RetrievalPlan) -> None:
        self.plan = plan
        self.join_keys = tuple(plan.join_keys)
        self.views = []
        for request in plan.views:
            view = request.view
            keys = tuple(
                (k, _key_coercer(e.value_type, k)) for e in view.entities for k in e.join_keys or ()
            )
            max_age = None if view.ttl is None else view.ttl.total_seconds()
            self.views.append((view.name, keys, request.features, request.outputs, max_age))
        natural = tuple(out for r in plan.views for out in r.outputs if out not in plan.hidden)
        self.reorder = bool(plan.on_demand) or natural != plan.columns

    def _keys(self, name: str, specs: tuple, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        try:
            if len(specs) == 1:
                key, coerce = specs[0]
                return [coerce(row[key]) for row in rows]
            return [encode_entity_key([coerce(row[key]) for key, coerce in specs]) for row in rows]
        except KeyError as exc:
            raise MissingJoinKeyError(
                [str(exc.args[0])], f"entity rows for view {name!r}"
            ) from None

    def read(
        self, online: OnlineStore, rows: Sequence[Mapping[str, Any]], now: float | None = None
    ) -> OnlineResponse:
        """Read every view of the plan for ``rows``, then compute its on-demand features."""
        now = time.time() if now is None else now
        n = len(rows)
        if n == 1 and not self.reorder:
            return self._read_one(online, rows[0], now)
        columns: dict[str, list[Any]] = {k: [row.get(k) for row in rows] for k in self.join_keys}
        groups: list[Group] = []
        requests = [(v[0], self._keys(v[0], v[1], rows), v[2]) for v in self.views]
        for (_, _, features, outputs, max_age), stored in zip(
            self.views, _read_all(online, requests), strict=True
        ):
            blank = [None] * len(features)
            statuses: list[FieldStatus] = []
            stamps: list[float | None] = []
            values: list[Any] = []
            for hit in stored:
                if hit is None:
                    statuses.append(FieldStatus.NOT_FOUND)
                    stamps.append(None)
                    values.append(blank)
                    continue
                stamps.append(hit[1])
                if max_age is not None and now - hit[1] > max_age:
                    statuses.append(FieldStatus.OUTSIDE_TTL)
                    values.append(blank)
                else:
                    statuses.append(FieldStatus.PRESENT)
                    values.append(hit[0])
            if n == 1:
                for out, value in zip(outputs, values[0], strict=True):
                    columns[out] = [value]
            else:
                for out, column in zip(outputs, zip(*values, strict=True), strict=True):
                    columns[out] = list(column)
            groups.append((outputs, statuses, stamps))
        if not self.reorder:
            return OnlineResponse(columns, groups)
        if self.plan.on_demand:
            groups += _apply_on_demand(self.plan, rows, columns, groups, n)
        ordered = {k: columns[k] for k in self.join_keys}
        for name in self.plan.columns:
            ordered[name] = columns[name]
        return OnlineResponse(ordered, groups)

    def _read_one(self, online: OnlineStore, row: Mapping[str, Any], now: float) -> OnlineResponse:
        """The single-entity path (the serving hot path): same result, fewer lists."""
        columns: dict[str, list[Any]] = {k: [row.get(k)] for k in self.join_keys}
        groups: list[Group] = []
        requests = []
        for name, specs, features, _, _ in self.views:
            if len(specs) == 1 and specs[0][0] in row:
                keys = [specs[0][1](row[specs[0][0]])]
            else:
                keys = self._keys(name, specs, (row,))
            requests.append((name, keys, features))
        replies = _read_all(online, requests)
        for (_, _, _, outputs, max_age), (hit,) in zip(self.views, replies, strict=True):
            if hit is None:
                columns.update(zip(outputs, [[None] for _ in outputs], strict=True))
                groups.append((outputs, [FieldStatus.NOT_FOUND], [None]))
            elif max_age is not None and now - hit[1] > max_age:
                columns.update(zip(outputs, [[None] for _ in outputs], strict=True))
                groups.append((outputs, [FieldStatus.OUTSIDE_TTL], [hit[1]]))
            else:
                columns.update({o: [v] for o, v in zip(outputs, hit[0], strict=True)})
                groups.append((outputs, [FieldStatus.PRESENT], [hit[1]]))
        return OnlineResponse(columns, groups)


def _read_all(online: OnlineStore, requests: list[Any]) -> list[list[Any]]:
    """One store call for every view of a request (one Redis round trip)."""
    if len(requests) == 1:
        return [online.read(*requests[0])]
    return online.read_views(requests)


def read_online_features(
    online: OnlineStore,
    plan: RetrievalPlan,
    entity_rows: Sequence[Mapping[str, Any]],
    *,
    now: float | None = None,
) -> OnlineResponse:
    """One-off read (``FeatureStore`` keeps an :class:`OnlineReader` per plan instead)."""
    return OnlineReader(plan).read(online, entity_rows, now)


def _apply_on_demand(
    plan: RetrievalPlan,
    entity_rows: Sequence[Mapping[str, Any]],
    columns: dict[str, list[Any]],
    groups: list[Group],
    n: int,
) -> list[Group]:
    """Compute the on-demand features into ``columns``; per on-demand view, a group whose
    status per row is the worst of its inputs' (a value built from a stale or missing input is
    never ``PRESENT``). Request data counts as present."""
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
    by_output = {out: st for outs, st, _ in groups for out in outs}
    out_groups: list[Group] = []
    for odfv, _, outputs in plan.on_demand:
        inputs = [
            value_statuses(by_output[name], columns[name])
            for name in (
                output_name(*parse_reference(ref), plan.full_feature_names)
                for ref in odfv.source_features()
            )
        ]
        statuses = (
            [worst(row) for row in zip(*inputs, strict=True)]
            if inputs
            else [FieldStatus.PRESENT] * n
        )
        out_groups.append((outputs, statuses, [None] * n))
    return out_groups
