"""The ``search_runs`` statement: filters on run columns, tags and latest metric values, sorted.

Metric filters and ``metric:KEY`` ordering read ``latest_metrics`` (one row per run and key,
indexed by key and value), so a filter over 100,000 runs never scans the ``metrics`` history.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from mloop.errors import ValidationError
from mloop.metadata.base import MetricFilter
from mloop.metadata.entities import RunState
from mloop.metadata.sql.schema import latest_metrics, runs
from mloop.metadata.sql.schema import tags as tags_table

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}
_RUN_ORDER = {"started_at": runs.c.started_at, "ended_at": runs.c.ended_at}


def search_statement(
    *,
    experiment: str | None,
    pipeline_name: str | None,
    states: Sequence[RunState] | None,
    metric_filters: Sequence[MetricFilter],
    order_by: str,
    descending: bool,
    limit: int,
    offset: int,
    tags: Mapping[str, str] | None = None,
) -> sa.Select[Any]:
    """A SELECT of ``runs`` rows for :meth:`MetadataStore.search_runs` (arguments as there)."""
    if limit < 0 or offset < 0:
        raise ValidationError(f"limit ({limit}) and offset ({offset}) must be >= 0")
    query = sa.select(runs)
    if experiment is not None:
        query = query.where(runs.c.experiment == experiment)
    if pipeline_name is not None:
        query = query.where(runs.c.pipeline_name == pipeline_name)
    if states is not None:
        query = query.where(runs.c.state.in_([RunState(s).value for s in states]))
    for i, metric_filter in enumerate(metric_filters):
        # EXISTS, not JOIN: both planners then walk runs in the ORDER BY index and stop after
        # ``limit`` matches, instead of sorting every run that passes the filter
        key, op, value = _check_filter(metric_filter)
        lm = latest_metrics.alias(f"mf{i}")
        query = query.where(
            sa.exists().where(
                lm.c.run_id == runs.c.id, lm.c.key == key, _OPERATORS[op](lm.c.value, value)
            )
        )
    for i, (tag_key, tag_value) in enumerate(_check_tags(tags)):
        # EXISTS on the tags primary key (run_id, key), for the same reason as above
        tag = tags_table.alias(f"tf{i}")
        query = query.where(
            sa.exists().where(
                tag.c.run_id == runs.c.id, tag.c.key == tag_key, tag.c.value == tag_value
            )
        )
    column = _order_column(order_by)
    if column is None:
        lm = latest_metrics.alias("mo")
        query = query.outerjoin(
            lm, sa.and_(lm.c.run_id == runs.c.id, lm.c.key == order_by[len("metric:") :])
        )
        column = lm.c.value
    direction = sa.desc if descending else sa.asc
    ordering = direction(column)
    if column is not runs.c.started_at:  # started_at is NOT NULL: keep its index usable
        ordering = sa.nulls_last(ordering)
    return query.order_by(ordering, direction(runs.c.id)).limit(limit).offset(offset)


def _order_column(order_by: str) -> sa.ColumnElement[Any] | None:
    if order_by in _RUN_ORDER:
        return _RUN_ORDER[order_by]
    if order_by.startswith("metric:") and len(order_by) > len("metric:"):
        return None
    raise ValidationError(
        f"order_by {order_by!r} is not supported; use 'started_at', 'ended_at' or 'metric:KEY'"
    )


def _check_filter(metric_filter: MetricFilter) -> tuple[str, str, float]:
    try:
        key, op, value = metric_filter
    except (TypeError, ValueError):
        raise ValidationError(
            f"metric filter {metric_filter!r} must be a tuple (key, operator, number), "
            "e.g. ('auc', '>', 0.8)"
        ) from None
    if op not in _OPERATORS:
        raise ValidationError(
            f"metric filter on {key!r} has operator {op!r}; use one of {sorted(_OPERATORS)}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"metric filter on {key!r} compares with {value!r}: not a number")
    return str(key), op, float(value)


def _check_tags(tags: Mapping[str, str] | None) -> list[tuple[str, str]]:
    if tags is None:
        return []
    if not isinstance(tags, Mapping):
        raise ValidationError(
            f"tags {tags!r} must be a mapping of tag names to values, e.g. {{'team': 'risk'}}"
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise ValidationError(
                f"tag filter {key!r}: {value!r} must name a tag and give its value as text"
            )
    return sorted(tags.items())
