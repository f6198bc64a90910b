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
from mloop.metadata.roles import (
    ExecutionStore,
    LineageStore,
    RunLeaseStore,
    RunStore,
    TrackingStore,
)

__all__ = [
    "Artifact",
    "Event",
    "EventKind",
    "Execution",
    "ExecutionState",
    "ExecutionStore",
    "LineageNode",
    "LineageStore",
    "MetadataStore",
    "Metric",
    "MetricFilter",
    "Pipeline",
    "Run",
    "RunLeaseStore",
    "RunState",
    "RunStore",
    "TrackingStore",
    "connect",
    "lineage",
]
