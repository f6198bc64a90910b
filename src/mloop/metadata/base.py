"""The metadata store contract: every run, execution, artifact, event, param and metric.

One implementation (``SqlMetadataStore``) serves SQLite and PostgreSQL; the ABC exists so that
the layers above depend on the contract, and so that ``tests/contracts`` can run one suite against
every backend. ``MetadataStore`` is the combination of the role ABCs of ``roles.py`` (runs,
leases, executions, lineage, tracking), plus ``open``/``close`` and the accessors of the stores
kept beside them (registry, features, monitoring, controller, deployments, fingerprints).
Callers that need one role are typed against that role.

Concurrency: every method is one transaction; several processes may write to one store at once.
Times are aware UTC datetimes. Unknown ids raise the matching ``NotFoundError``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from mloop.metadata.controller_state import ControllerStateStore
from mloop.metadata.deployments import DeploymentStore
from mloop.metadata.feature_definitions import FeatureDefinitionStore
from mloop.metadata.file_fingerprints import FileFingerprintStore
from mloop.metadata.model_registry import ModelRegistryStore
from mloop.metadata.monitoring_records import MonitoringStore
from mloop.metadata.roles import (
    COLLECTED_AT,
    ExecutionStore,
    LineageStore,
    MetricFilter,
    RunLeaseStore,
    RunStore,
    TrackingStore,
)
from mloop.metadata.run_writes import RunWrites

__all__ = [
    "COLLECTED_AT",
    "ExecutionStore",
    "LineageStore",
    "MetadataStore",
    "MetricFilter",
    "RunLeaseStore",
    "RunStore",
    "TrackingStore",
]


class MetadataStore(RunStore, RunLeaseStore, ExecutionStore, LineageStore, TrackingStore):
    """The system of record: every role in one store. Construct with :meth:`open`; close with
    :meth:`close`."""

    url: str

    @classmethod
    @abstractmethod
    def open(cls, url: str, *, migrate: bool = True) -> MetadataStore:
        """Connect to ``url``; create and migrate the schema when ``migrate`` (else raise
        ``MigrationRequiredError`` if the schema is behind). Always refuses a newer schema."""

    @abstractmethod
    def close(self) -> None: ...

    def record_runs(self, writes: Sequence[RunWrites]) -> None:
        """A fallback making one call per write, in list order: a backend without its own
        ``record_runs`` works, only slower and without the all-or-nothing guarantee (which
        the contract suite checks, so a real backend overrides this)."""
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
                    leased=run.heartbeat_at is not None,
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

    # -- CI/CD of pipelines (mloop.cicd) ----------------------------------------------------
    def deployments(self) -> DeploymentStore:
        """Pipeline packages, environments' policies and deployments kept in this store."""
        from mloop.errors import StoreError

        raise StoreError(f"{type(self).__name__} cannot keep deployments")
