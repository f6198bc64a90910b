"""The metadata store: the one record of runs, executions, artifacts, lineage and metrics."""

from __future__ import annotations

from mloop.metadata.base import MetadataStore, MetricFilter
from mloop.metadata.connect import connect
from mloop.metadata.entities import (
    Artifact,
    Event,
    EventKind,
    Execution,
    ExecutionState,
    LineageNode,
    Metric,
    Pipeline,
    Run,
    RunState,
)
from mloop.metadata.lineage import lineage

__all__ = [
    "Artifact",
    "Event",
    "EventKind",
    "Execution",
    "ExecutionState",
    "LineageNode",
    "MetadataStore",
    "Metric",
    "MetricFilter",
    "Pipeline",
    "Run",
    "RunState",
    "connect",
    "lineage",
]
