"""The point-in-time plan: which views a request touches, and the SQL that joins them.

Pure: no I/O, no DuckDB connection. For each entity row and each view the result holds the
view's latest row whose event time is at or before the entity row's event time and no older than
the view's ttl; rows with equal event times are ordered by their created time (latest wins);
a miss gives nulls. Every entity row is returned once, in input order (a row-number column is
carried through the joins and sorted on at the end). See docs/adr/0009-point-in-time-retrieval.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mloop.errors import FeatureDefinitionError, FeatureNotFoundError
from mloop.features.definitions import FeatureView, OnDemandFeatureView, parse_reference

ROW_ID = "__mloop_row"
"""Column added to the entity rows to keep their order (0..n-1)."""
ENTITY_TS = "__mloop_ets"


@dataclass(frozen=True)
class ViewRequest:
    """The features wanted from one view; ``outputs`` are their result column names."""

    view: FeatureView
    features: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalPlan:
    """What a list of feature references resolves to."""

    views: tuple[ViewRequest, ...]
    on_demand: tuple[tuple[OnDemandFeatureView, tuple[str, ...], tuple[str, ...]], ...]
    columns: tuple[str, ...]  # requested result columns, in request order
    hidden: tuple[str, ...]  # fetched only as inputs of on-demand views; dropped at the end
    full_feature_names: bool = False

    @property
    def join_keys(self) -> list[str]:
        keys: list[str] = []
        for request in self.views:
            keys += [k for k in request.view.join_keys if k not in keys]
        return keys


def output_name(view: str, feature: str, full_feature_names: bool) -> str:
    return f"{view}__{feature}" if full_feature_names else feature


def plan_retrieval(
    references: Sequence[str],
    views: Mapping[str, FeatureView],
    on_demand: Mapping[str, OnDemandFeatureView],
    *,
    full_feature_names: bool = False,
) -> RetrievalPlan:
    """Resolve ``view:feature`` references (raises ``FeatureNotFoundError`` for unknown ones)."""
    if isinstance(references, str) or not references:
        raise FeatureDefinitionError(
            "features must be a non-empty list of 'view:feature' references or a FeatureService"
        )
    wanted: dict[str, list[str]] = {}
    odfv_wanted: dict[str, list[str]] = {}
    columns: list[str] = []
    for ref in references:
        view_name, feat = parse_reference(ref)
        if view_name in views:
            if feat not in views[view_name].feature_names:
                raise FeatureNotFoundError(
                    ref, [f"{view_name}:{f}" for f in views[view_name].feature_names]
                )
            bucket = wanted.setdefault(view_name, [])
        elif view_name in on_demand:
            if feat not in on_demand[view_name].feature_names:
                raise FeatureNotFoundError(
                    ref, [f"{view_name}:{f}" for f in on_demand[view_name].feature_names]
                )
            bucket = odfv_wanted.setdefault(view_name, [])
        else:
            raise FeatureNotFoundError(ref, [*views, *on_demand])
        if feat not in bucket:
            bucket.append(feat)
            columns.append(output_name(view_name, feat, full_feature_names))
    hidden: list[str] = []
    for odfv_name in odfv_wanted:
        for ref in on_demand[odfv_name].source_features():
            view_name, feat = parse_reference(ref)
            if view_name not in views:
                raise FeatureNotFoundError(ref, list(views))
            bucket = wanted.setdefault(view_name, [])
            if feat not in bucket:
                bucket.append(feat)
                hidden.append(output_name(view_name, feat, full_feature_names))
    dupes = sorted({c for c in columns + hidden if (columns + hidden).count(c) > 1})
    if dupes:
        raise FeatureDefinitionError(
            f"features {dupes} have the same name in several views; pass "
            "full_feature_names=True to name result columns 'view__feature'"
        )
    requests = tuple(
        ViewRequest(
            views[name],
            tuple(feats),
            tuple(output_name(name, f, full_feature_names) for f in feats),
        )
        for name, feats in wanted.items()
    )
    odfvs = tuple(
        (
            on_demand[name],
            tuple(feats),
            tuple(output_name(name, f, full_feature_names) for f in feats),
        )
        for name, feats in odfv_wanted.items()
    )
    return RetrievalPlan(requests, odfvs, tuple(columns), tuple(hidden), full_feature_names)


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def point_in_time_sql(
    entity_relation: str,
    entity_columns: Sequence[str],
    event_ts_expr: str,
    requests: Sequence[ViewRequest],
    feature_relations: Sequence[str],
    feature_ts_exprs: Sequence[str],
) -> str:
    """The DuckDB query: one ASOF LEFT JOIN per view, ttl as a condition on the matched row.

    ``entity_relation`` must carry :data:`ROW_ID`; ``event_ts_expr`` and ``feature_ts_exprs``
    are the (cast) event-time expressions, all of one SQL type. A view with a created-time column
    is first reduced to one row per (keys, event time): the latest created.
    """
    if event_ts_expr.startswith('"'):  # a plain column: no alias (a projection costs ~30 %)
        ets = f"e.{event_ts_expr}"
        ctes = [f"e AS (SELECT * FROM {entity_relation})"]
    else:
        ets = f"e.{ENTITY_TS}"
        ctes = [f"e AS (SELECT *, {event_ts_expr} AS {ENTITY_TS} FROM {entity_relation})"]
    selects = [f"e.{quote(c)}" for c in entity_columns]
    joins = []
    for i, (request, relation, ts_expr) in enumerate(
        zip(requests, feature_relations, feature_ts_exprs, strict=True)
    ):
        view = request.view
        keys = [quote(k) for k in view.join_keys]
        feats = [quote(f) for f in request.features]
        ts_col = f"__mloop_ts{i}"
        body = (
            f"SELECT {', '.join(keys)}, {ts_expr} AS {ts_col}, {', '.join(feats)} FROM {relation}"
        )
        if view.created_timestamp_field:
            created = quote(view.created_timestamp_field)
            body = (
                f"SELECT {', '.join(keys)}, {ts_expr} AS {ts_col}, {', '.join(feats)}, "
                f"{created} AS __mloop_created FROM {relation} QUALIFY row_number() OVER "
                f"(PARTITION BY {', '.join(keys)}, {ts_expr} ORDER BY __mloop_created DESC "
                "NULLS LAST) = 1"
            )
        ctes.append(f"f{i} AS ({body})")
        on = " AND ".join(f"e.{k} = f{i}.{k}" for k in keys)
        joins.append(f"ASOF LEFT JOIN f{i} ON {on} AND {ets} >= f{i}.{ts_col}")
        if view.ttl is None:
            valid = None
        else:
            micros = int(view.ttl.total_seconds() * 1_000_000)
            valid = f"f{i}.{ts_col} >= {ets} - to_microseconds({micros})"
        for feat, out in zip(request.features, request.outputs, strict=True):
            value = f"f{i}.{quote(feat)}"
            selects.append(
                f"{value} AS {quote(out)}"
                if valid is None
                else f"CASE WHEN {valid} THEN {value} END AS {quote(out)}"
            )
    return (
        f"WITH {', '.join(ctes)} SELECT {', '.join(selects)} FROM e "
        f"{' '.join(joins)} ORDER BY e.{ROW_ID}"
    )


def latest_per_entity_sql(
    view: FeatureView,
    relation: str,
    ts_expr: str,
    start_literal: str,
    end_literal: str,
    *,
    created_expr: str | None = None,
    created_after_literal: str | None = None,
) -> str:
    """Each entity's newest row with ``start <= event time <= end`` (ties: latest created);
    with ``created_after_literal``, rows with ``event time <= end`` created after it count too.
    ``created_expr`` is the (cast) created-time column, if the view has one."""
    keys = [quote(k) for k in view.join_keys]
    feats = [quote(f) for f in view.feature_names]
    created = created_expr
    order = f"{ts_expr} DESC{', ' + created + ' DESC NULLS LAST' if created else ''}"
    created_col = f", {created} AS __mloop_created" if created else ", NULL AS __mloop_created"
    window = f"{ts_expr} >= {start_literal}"
    if created and created_after_literal:
        window = f"({window} OR {created} > {created_after_literal})"
    return (
        f"SELECT {', '.join(keys)}, {ts_expr} AS __mloop_ts{created_col}, {', '.join(feats)} "
        f"FROM {relation} WHERE {window} AND {ts_expr} <= {end_literal} "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY {order}) = 1"
    )
