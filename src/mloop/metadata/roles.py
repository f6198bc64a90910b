"""The metadata store's roles: one narrow ABC per kind of caller, which ``MetadataStore``
combines (``base.py``).

A caller that needs only one role is typed against it (``search_runs`` takes a ``RunStore``,
the metric buffer a ``TrackingStore``), and ``mloop.testing.contracts`` holds one contract
class per role, so a partial backend can be tested role by role. The stores kept beside these
(model registry, features, monitoring, controller, deployments, fingerprints) are reached
through ``MetadataStore``'s accessors and have their own ABCs in their modules.

Concurrency: every method is one transaction; several processes may write to one store at once.
Times are aware UTC datetimes. Unknown ids raise the matching ``NotFoundError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from mloop.metadata.entities import (
    Artifact,
    Event,
    Execution,
    ExecutionState,
    Metric,
    Pipeline,
    Run,
    RunState,
)
from mloop.metadata.run_writes import RunWrites

MetricFilter = tuple[str, Literal[">", ">=", "<", "<=", "=", "!="], float]
"""``("auc", ">", 0.8)``: keep runs whose latest value of ``auc`` satisfies the comparison."""

COLLECTED_AT = "collected_at"
"""Artifact property set by ``mloop gc`` when it deleted the artifact's content (ISO time)."""


class RunStore(ABC):
    """Runs and the pipelines they run: what tracking, the runner, the CLI and the UI list."""

    @abstractmethod
    def upsert_pipeline(self, name: str, version: str, spec: Mapping[str, Any]) -> Pipeline:
        """Record a compiled pipeline; idempotent for the same ``(name, version)``."""

    @abstractmethod
    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        name: str | None = None,
        pipeline_name: str | None = None,
        pipeline_version: str | None = None,
        pipeline_params: Mapping[str, Any] | None = None,
        trigger: str | None = None,
        environment: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        host: str | None = None,
        pid: int | None = None,
        options: Mapping[str, Any] | None = None,
        leased: bool = True,
    ) -> Run:
        """Start a run in state RUNNING with ``heartbeat_at`` = now. ``host``/``pid`` name the
        process running it; ``options`` are the run options a resume keeps (JSON values).
        ``leased=False`` (tracking runs, which send no heartbeats): no lease, never reaped."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with this id, or with this unique id prefix (>= 6 characters)."""

    @abstractmethod
    def finish_run(self, run_id: str, state: RunState, *, error: str | None = None) -> Run:
        """Set a final state and ``ended_at``; also used to reopen (RUNNING) a run on resume."""

    @abstractmethod
    def search_runs(
        self,
        *,
        experiment: str | None = None,
        pipeline_name: str | None = None,
        states: Sequence[RunState] | None = None,
        metric_filters: Sequence[MetricFilter] = (),
        order_by: str = "started_at",
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
        include_data: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> list[Run]:
        """Filtered, sorted runs. ``order_by`` is ``started_at``, ``ended_at`` or ``metric:KEY``.
        ``tags``: only runs carrying every one of these tags with exactly this value.
        With ``include_data`` each run carries its params and latest metrics, read in the same
        transaction with one query each for all hits."""


class RunLeaseStore(ABC):
    """The liveness of runs: leases renewed by the process running them, reaped when stale,
    reopened on resume (the runners, the launcher, the controller)."""

    @abstractmethod
    def reopen_run(self, run_id: str, *, host: str | None, pid: int | None) -> Run:
        """Set a finished run back to RUNNING for a resume by process ``pid`` on ``host``, with a
        fresh lease; its other fields (params, options) are kept."""

    @abstractmethod
    def abandon_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Mark these runs ABANDONED if they are RUNNING (their process is known to be gone),
        and their RUNNING/PENDING executions too; returns the ids marked."""

    @abstractmethod
    def heartbeat(self, run_id: str) -> None:
        """Renew the lease of a run and of its RUNNING executions (sets ``heartbeat_at`` = now)."""

    @abstractmethod
    def reap_abandoned(self, lease_seconds: float, *, now: datetime | None = None) -> list[str]:
        """Mark RUNNING runs whose heartbeat is older than the lease as ABANDONED, and their
        RUNNING/PENDING executions too; returns the ids of the runs marked. Runs created
        without a lease (``leased=False``) are never marked."""


class ExecutionStore(ABC):
    """Step executions of a run and the cache that reuses them (the runner)."""

    @abstractmethod
    def create_execution(
        self,
        run_id: str,
        step_name: str,
        *,
        state: ExecutionState = ExecutionState.RUNNING,
        code_digest: str | None = None,
        cache_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | None = None,
        cached_from: str | None = None,
        input_artifacts: Sequence[Artifact] = (),
    ) -> Execution:
        """Record an execution, and INPUT events for ``inputs`` (name -> artifact id).
        ``input_artifacts`` are inserted first unless an artifact with the same id exists
        (input files: the same content read again is the same artifact)."""

    @abstractmethod
    def finish_execution(
        self,
        execution_id: str,
        state: ExecutionState,
        *,
        new_artifacts: Sequence[Artifact] = (),
        outputs: Mapping[str, str] | None = None,
        error: str | None = None,
        attempts: int | None = None,
        log_uri: str | None = None,
    ) -> Execution:
        """In one transaction: insert ``new_artifacts``, OUTPUT events for ``outputs``
        (name -> artifact id), and the execution's final state. Either all of it lands or none."""

    @abstractmethod
    def get_execution(self, execution_id: str) -> Execution: ...

    @abstractmethod
    def list_executions(self, run_id: str) -> list[Execution]:
        """The run's executions in creation order."""

    @abstractmethod
    def find_cached(self, cache_key: str) -> Execution | None:
        """The newest SUCCEEDED or CACHED execution with this cache key, if any."""


class LineageStore(ABC):
    """Artifacts and the events linking them to executions (lineage, the CLI, ``mloop gc``)."""

    @abstractmethod
    def get_artifact(self, artifact_id: str) -> Artifact: ...

    @abstractmethod
    def find_artifacts(self, uris: Sequence[str]) -> list[Artifact]:
        """Artifacts whose ``uri`` is one of ``uris``, oldest first (e.g. every recorded
        version of an input file, whose uri is its ``file://`` URI)."""

    @abstractmethod
    def list_events(
        self, *, execution_id: str | None = None, artifact_id: str | None = None
    ) -> list[Event]:
        """Events of one execution or of one artifact (exactly one of the two is given)."""

    def mark_artifacts_collected(self, artifact_ids: Sequence[str], *, at: datetime) -> None:
        """Record that these artifacts' content was deleted by garbage collection: their
        ``properties[COLLECTED_AT]`` becomes ``at`` (ISO-8601 UTC). Rows and events stay, so
        lineage still tells what was there and that it was collected."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot record collected artifacts")


class TrackingStore(ABC):
    """Params, metrics and tags of runs (the tracking API)."""

    @abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Params are stored as strings; logging the same key twice with another value raises
        ``ValidationError`` (a run's params describe it; they do not change)."""

    @abstractmethod
    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Append metric values in one transaction (the tracking API batches into this)."""

    @abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    @abstractmethod
    def get_params(self, run_id: str) -> dict[str, str]: ...

    @abstractmethod
    def get_metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        """Every value logged, ordered by key, step, timestamp."""

    @abstractmethod
    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Run id -> {key: value of the highest step (then latest timestamp)}, for listings."""

    @abstractmethod
    def record_runs(self, writes: Sequence[RunWrites]) -> None:
        """Apply many runs' tracking writes (new run with its own times, tags, params, metric
        values, final state) in one transaction: all of it lands or none, and the error is
        raised (``RunNotFoundError``, or ``ValidationError`` for a changed param)."""
