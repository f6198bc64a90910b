"""Tracking: runs, params, metrics, tags and files, MLflow-style (``mloop.start_run`` ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mloop.metadata.base import MetricFilter
from mloop.metadata.entities import Metric, Run, RunState
from mloop.tracking.client import TrackingClient
from mloop.tracking.fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    log_artifact,
    log_metrics,
    log_params,
    run_context,
    set_tags,
    start_run,
)
from mloop.tracking.search import ResultTruncatedWarning, RunPage


def search_runs(
    experiment: str | None = None,
    *,
    pipeline_name: str | None = None,
    metric_filters: Sequence[MetricFilter] = (),
    states: Sequence[RunState | str] | None = None,
    order_by: str = "started_at",
    descending: bool = True,
    limit: int | None = None,
    page_token: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> RunPage:
    """Runs of the project's store (see :meth:`TrackingClient.search_runs`): a page with each
    run's params and latest metrics, and ``next_page_token`` when more matched."""
    return TrackingClient().search_runs(
        experiment,
        pipeline_name=pipeline_name,
        metric_filters=metric_filters,
        states=states,
        order_by=order_by,
        descending=descending,
        limit=limit,
        page_token=page_token,
        tags=tags,
    )


__all__ = [
    "ActiveRun",
    "Metric",
    "MetricFilter",
    "ResultTruncatedWarning",
    "Run",
    "RunPage",
    "RunState",
    "TrackingClient",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metrics",
    "log_params",
    "run_context",
    "search_runs",
    "set_tags",
    "start_run",
]
