"""The metadata store contract: every run, execution, artifact, event, param and metric.

One implementation (``SqlMetadataStore``) serves SQLite and PostgreSQL; the ABC exists so that
the layers above depend on the contract, and so that ``tests/contracts`` can run one suite against
every backend. Methods are grouped by who uses them: runs, executions and artifacts (the runner),
params/metrics/tags (tracking), queries (CLI, lineage, UI).

Concurrency: every method is one transaction; several processes may write to one store at once.
Times are aware UTC datetimes. Unknown ids raise the matching ``NotFoundError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from mloop.metadata.controller_state import ControllerStateStore
from mloop.metadata.deployments import DeploymentStore
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
from mloop.metadata.feature_definitions import FeatureDefinitionStore
from mloop.metadata.file_fingerprints import FileFingerprintStore
from mloop.metadata.model_registry import ModelRegistryStore
from mloop.metadata.monitoring_records import MonitoringStore
from mloop.metadata.run_writes import RunWrites

MetricFilter = tuple[str, Literal[">", ">=", "<", "<=", "=", "!="], float]
"""``("auc", ">", 0.8)``: keep runs whose latest value of ``auc`` satisfies the comparison."""


COLLECTED_AT = "collected_at"
"""Artifact property set by ``mloop gc`` when it deleted the artifact's content (ISO time)."""


class MetadataStore(ABC):
    """The system of record. Construct with :meth:`open`; close with :meth:`close`."""

    url: str

    @classmethod
    @abstractmethod
    def open(cls, url: str, *, migrate: bool = True) -> MetadataStore:
        """Connect to ``url``; create and migrate the schema when ``migrate`` (else raise
        ``MigrationRequiredError`` if the schema is behind). Always refuses a newer schema."""

    @abstractmethod
    def close(self) -> None: ...

    # -- pipelines and runs ---------------------------------------------------------------------
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
    ) -> Run:
        """Start a run in state RUNNING with ``heartbeat_at`` = now. ``host``/``pid`` name the
        process running it; ``options`` are the run options a resume keeps (JSON values)."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with this id, or with this unique id prefix (>= 6 characters)."""

    @abstractmethod
    def finish_run(self, run_id: str, state: RunState, *, error: str | None = None) -> Run:
        """Set a final state and ``ended_at``; also used to reopen (RUNNING) a run on resume."""

    @abstractmethod
    def reopen_run(self, run_id: str, *, host: str | None, pid: int | None) -> Run:
        """Set a finished run back to RUNNING for a resume by process ``pid`` on ``host``, with a
        fresh lease; its other fields (params, options) are kept."""

    @abstractmethod
    def abandon_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Mark these runs ABANDONED if they are RUNNING (their process is known to be gone),
        and their RUNNING/PENDING executions too; returns the ids marked."""

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
    ) -> list[Run]:
        """Filtered, sorted runs. ``order_by`` is ``started_at``, ``ended_at`` or ``metric:KEY``.
        With ``include_data`` each run carries its params and latest metrics, read in the same
        transaction with one query each for all hits."""

    @abstractmethod
    def heartbeat(self, run_id: str) -> None:
        """Renew the lease of a run and of its RUNNING executions (sets ``heartbeat_at`` = now)."""

    @abstractmethod
    def reap_abandoned(self, lease_seconds: float, *, now: datetime | None = None) -> list[str]:
        """Mark RUNNING runs whose heartbeat is older than the lease as ABANDONED, and their
        RUNNING/PENDING executions too; returns the ids of the runs marked."""

    # -- executions, artifacts, events ----------------------------------------------------------
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

    # -- tracking -------------------------------------------------------------------------------
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

    def record_runs(self, writes: Sequence[RunWrites]) -> None:
        """Apply many runs' tracking writes (new run, tags, params, metrics, final state), in
        list order. SQL stores do it in one transaction; this fallback makes one call each, so
        a backend without an override still works, only slower and not atomically."""
        for w in writes:
            if w.create is not None:
                run = w.create
                self.create_run(
                    run.experiment,
                    run_id=run.id,
                    name=run.name,
                    parent_run_id=run.parent_run_id,
                    tags=run.tags,
                    environment=run.environment,
                )
            self.set_tags(w.run_id, w.tags)
            self.log_params(w.run_id, w.params)
            self.log_metrics(w.run_id, w.metrics)
            if w.finish is not None:
                self.finish_run(w.run_id, w.finish.state, error=w.finish.error)

    # -- file fingerprints (mloop.pipelines) -------------------------------------------------
    def file_fingerprints(self) -> FileFingerprintStore:
        """The memo of input file digests kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep file fingerprints")

    # -- feature store (mloop.features) ---------------------------------------------------------
    def feature_definitions(self) -> FeatureDefinitionStore:
        """The versioned feature-store definitions kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot store feature definitions")

    # -- model registry (mloop.registry) --------------------------------------------------------
    def model_registry(self) -> ModelRegistryStore:
        """Registered models, versions, aliases and alias history kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep a model registry")

    # -- monitoring (mloop.monitoring) ---------------------------------------------------------
    def monitoring(self) -> MonitoringStore:
        """Monitoring reports and alerts kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep monitoring reports")

    # -- controller (mloop.controller) -------------------------------------------------------
    def controller_state(self) -> ControllerStateStore:
        """Trigger events and leader leases kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep controller state")

    # -- retention (mloop gc) -------------------------------------------------------------------
    def mark_artifacts_collected(self, artifact_ids: Sequence[str], *, at: datetime) -> None:
        """Record that these artifacts' content was deleted by garbage collection: their
        ``properties[COLLECTED_AT]`` becomes ``at`` (ISO-8601 UTC). Rows and events stay, so
        lineage still tells what was there and that it was collected."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot record collected artifacts")

    # -- CI/CD of pipelines (mloop.cicd) ----------------------------------------------------
    def deployments(self) -> DeploymentStore:
        """Pipeline packages, environments' policies and deployments kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep deployments")
