"""Tracking: runs, params, metrics, tags and files, MLflow-style (``mloop.start_run`` ...)."""

from __future__ import annotations

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

__all__ = [
    "ActiveRun",
    "TrackingClient",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metrics",
    "log_params",
    "run_context",
    "set_tags",
    "start_run",
]
