"""What the metadata store holds, as frozen dataclasses (no SQLAlchemy here).

Every row the store returns is one of these, so the layers above never see a database row.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class RunState(str, Enum):
    """Lifecycle of a run (pipeline run or tracking run)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"  # its process died; resumable with --resume

    @property
    def finished(self) -> bool:
        return self is not RunState.RUNNING


class ExecutionState(str, Enum):
    """Lifecycle of one step execution inside a run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CACHED = "cached"  # outputs reused from an earlier execution with the same cache key
    SKIPPED = "skipped"  # an upstream step failed
    ABANDONED = "abandoned"  # the heartbeat lease expired: the process running it died

    @property
    def done_ok(self) -> bool:
        """True when the outputs of this execution can be used downstream (and on resume)."""
        return self in (ExecutionState.SUCCEEDED, ExecutionState.CACHED)


class EventKind(str, Enum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class Pipeline:
    """A compiled pipeline; ``version`` is the digest of its spec (steps, wiring, code digests)."""

    name: str
    version: str
    spec: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Run:
    """One run: of a pipeline (``pipeline_name`` set) or a tracking run (``start_run``)."""

    id: str
    experiment: str
    state: RunState
    started_at: datetime
    ended_at: datetime | None = None
    name: str | None = None
    pipeline_name: str | None = None
    pipeline_version: str | None = None
    pipeline_params: dict[str, Any] = field(default_factory=dict)
    trigger: str | None = None
    environment: str | None = None
    parent_run_id: str | None = None  # the run this one resumes
    tags: dict[str, str] = field(default_factory=dict)
    heartbeat_at: datetime | None = None
    error: str | None = None
    host: str | None = None  # host name of the process running it (pipeline runs)
    pid: int | None = None  # its process id on ``host``
    options: dict[str, Any] = field(default_factory=dict)  # run options a resume keeps
    # filled by ``search_runs(include_data=True)`` (one query each for every hit, no N+1)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # latest value of each key


@dataclass(frozen=True)
class Execution:
    """One step execution of a run."""

    id: str
    run_id: str
    step_name: str
    state: ExecutionState
    code_digest: str | None = None
    cache_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    log_uri: str | None = None
    cached_from: str | None = None  # execution id whose outputs were reused


@dataclass(frozen=True)
class Artifact:
    """A stored value: ``uri`` is relative to the artifact store, ``digest`` its SHA-256."""

    id: str
    type: str
    uri: str
    digest: str
    size: int
    created_at: datetime
    materializer: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An artifact going into (input) or coming out of (output) an execution, under ``name``."""

    execution_id: str
    artifact_id: str
    kind: EventKind
    name: str


@dataclass(frozen=True)
class Metric:
    """One value of a metric; ``step`` is the user's training step, ``timestamp`` when logged."""

    key: str
    value: float
    step: int = 0
    timestamp: datetime | None = None
    execution_id: str | None = None


@dataclass(frozen=True)
class LineageNode:
    """A node of a lineage tree: a run, an execution or an artifact, with its neighbours."""

    kind: str  # "run" | "execution" | "artifact"
    id: str
    label: str
    state: str | None = None
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "state": self.state,
            "children": [c.to_dict() for c in self.children],
        }
