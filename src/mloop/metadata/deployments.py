"""Pipeline packages and their deployments into environments: the records and their store.

A package is one built, content-addressed version of a pipeline (``digest`` names its content;
``version`` counts packages of that pipeline in this store). A deployment asks for one package
to be the active one of a pipeline in one environment: it is ``pending_approval`` until approved
(or ``active`` at once under ``approval: auto``), then ``active`` until another deployment
``superseded`` it or a rollback made it ``rolled_back``; a request that was refused, or lost a
race against another deployment, ends ``rejected`` with the reason. Each row says who asked,
when and why, and who decided, when and why.

At most one deployment is active per (environment, pipeline): the database enforces it (a unique
column set only while active), and activation is a compare-and-swap against the deployment that
was active when the request was made, so of two deployments at once exactly one wins.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

__all__ = [
    "Deployment",
    "DeploymentKind",
    "DeploymentState",
    "DeploymentStore",
    "PipelinePackage",
]


class DeploymentState(str, Enum):
    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"


class DeploymentKind(str, Enum):
    """Why the deployment row exists: a direct deploy, a promotion, or a rollback."""

    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class PipelinePackage:
    """A built pipeline: its files live in the artifact store at ``uri`` (folder digest
    ``files_digest``); ``digest`` is the package digest over manifest and code (see
    :mod:`mloop.pipelines.packaged`); ``manifest`` is the whole manifest."""

    id: str
    pipeline: str
    version: int
    digest: str
    uri: str
    files_digest: str
    graph_version: str
    code_digest: str
    manifest: dict[str, Any]
    created_at: datetime
    created_by: str | None = None

    @property
    def short(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class Deployment:
    """One request to make ``package_id`` the active package of ``pipeline`` in
    ``environment`` (see the module doc for the states). ``base_id`` is the deployment that was
    active when it was requested: it activates only while that one still is."""

    id: str
    environment: str
    pipeline: str
    package_id: str
    package_digest: str
    state: DeploymentState
    kind: DeploymentKind
    requested_by: str
    requested_at: datetime
    reason: str
    approval: str = "auto"
    base_id: str | None = None
    source_environment: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    activated_at: datetime | None = None
    ended_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


class DeploymentStore(ABC):
    """Packages, environments' policies and deployments; every change is one transaction."""

    # -- packages ---------------------------------------------------------------------------
    @abstractmethod
    def add_package(
        self,
        pipeline: str,
        *,
        digest: str,
        uri: str,
        files_digest: str,
        graph_version: str,
        code_digest: str,
        manifest: Mapping[str, Any],
        created_by: str | None = None,
        version: int | None = None,
    ) -> PipelinePackage:
        """Register a package; idempotent by ``digest`` (the existing row comes back).
        Versions count up per pipeline, taken inside the write transaction; ``version`` (a
        package copied from another environment keeps its number) is used when still free."""

    @abstractmethod
    def get_package(self, reference: str) -> PipelinePackage:
        """By id, by digest or unique digest prefix (>= 6 characters), or ``PIPELINE:VERSION``;
        ``NotFoundError`` otherwise."""

    @abstractmethod
    def list_packages(
        self, pipeline: str | None = None, *, limit: int = 100
    ) -> list[PipelinePackage]:
        """Newest first."""

    # -- environments -----------------------------------------------------------------------
    @abstractmethod
    def record_environment(self, name: str, policy: Mapping[str, Any]) -> None:
        """Keep the promotion policy in force for ``name`` (upsert)."""

    # -- deployments ------------------------------------------------------------------------
    @abstractmethod
    def request_deployment(
        self,
        environment: str,
        package: PipelinePackage,
        *,
        requested_by: str,
        reason: str,
        approval: str,
        kind: DeploymentKind = DeploymentKind.DEPLOY,
        source_environment: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """A ``pending_approval`` row whose base is the deployment active now (if any)."""

    @abstractmethod
    def activate(
        self,
        deployment_id: str,
        *,
        decided_by: str,
        reason: str,
        previous_state: DeploymentState = DeploymentState.SUPERSEDED,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Pending -> active, and the base (if any) -> ``previous_state``, in one transaction,
        only while the base is still the active deployment. If another deployment became active
        since the request, the row ends ``rejected`` and ``DeploymentConflictError`` is raised.
        ``details`` (e.g. the gates checked at approval) are added to the row's, in the same
        transaction."""

    @abstractmethod
    def reject(
        self,
        deployment_id: str,
        *,
        decided_by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Pending -> rejected (a refused approval); ``details`` are added to the row's."""

    @abstractmethod
    def get_deployment(self, deployment_id: str) -> Deployment:
        """By id or unique prefix (>= 6 characters)."""

    @abstractmethod
    def list_deployments(
        self,
        *,
        environment: str | None = None,
        pipeline: str | None = None,
        states: tuple[DeploymentState, ...] | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        """Newest request first."""

    def active_deployment(self, environment: str, pipeline: str) -> Deployment | None:
        """The active deployment of ``pipeline`` in ``environment``, if any."""
        found = self.list_deployments(
            environment=environment,
            pipeline=pipeline,
            states=(DeploymentState.ACTIVE,),
            limit=1,
        )
        return found[0] if found else None
