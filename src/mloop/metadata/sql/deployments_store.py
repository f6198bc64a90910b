"""``SqlDeploymentStore``: pipeline packages, environments and deployments on SQLite/PostgreSQL.

At most one active deployment per (environment, pipeline) is a database rule: ``active_slot``
(``"<env>/<pipeline>"`` while active, NULL otherwise) is unique. Activation is a compare-and-swap
in one write transaction: the deployment's row and the active row are locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), the
active row must still be the one the request was made against, and only then does it move. Of
two activations at once, the second sees the first's change (or hits the unique column) and is
recorded as rejected: one wins, the other is not lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop._utils.ids import new_id
from mloop.errors import DeploymentConflictError, NotFoundError, ValidationError
from mloop.metadata.deployments import (
    Deployment,
    DeploymentKind,
    DeploymentState,
    DeploymentStore,
    PipelinePackage,
)
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import deployments, environments, pipeline_packages

MIN_PREFIX = 6
_PKG = pipeline_packages.c
_DEP = deployments.c


def _opt_time(value: Any) -> Any:
    return None if value is None else as_utc(value)


def _package(row: Mapping[Any, Any]) -> PipelinePackage:
    return PipelinePackage(
        id=row["id"],
        pipeline=row["pipeline"],
        version=int(row["version"]),
        digest=row["digest"],
        uri=row["uri"],
        files_digest=row["files_digest"],
        graph_version=row["graph_version"],
        code_digest=row["code_digest"],
        manifest=dict(row["manifest"] or {}),
        created_at=as_utc(row["created_at"]),
        created_by=row["created_by"],
    )


def _deployment(row: Mapping[Any, Any]) -> Deployment:
    return Deployment(
        id=row["id"],
        environment=row["environment"],
        pipeline=row["pipeline"],
        package_id=row["package_id"],
        package_digest=row["package_digest"],
        state=DeploymentState(row["state"]),
        kind=DeploymentKind(row["kind"]),
        requested_by=row["requested_by"],
        requested_at=as_utc(row["requested_at"]),
        reason=row["reason"],
        approval=row["approval"],
        base_id=row["base_id"],
        source_environment=row["source_environment"],
        decided_by=row["decided_by"],
        decided_at=_opt_time(row["decided_at"]),
        decision_reason=row["decision_reason"],
        activated_at=_opt_time(row["activated_at"]),
        ended_at=_opt_time(row["ended_at"]),
        details=dict(row["details"] or {}),
    )


def _merged(stored: Mapping[str, Any] | None, added: Mapping[str, Any] | None) -> dict[str, Any]:
    """A row's ``details`` with a decision's added (its keys win)."""
    return {**dict(stored or {}), **dict(added or {})}


def _slot(environment: str, pipeline: str) -> str:
    return f"{environment}/{pipeline}"


class SqlDeploymentStore(DeploymentStore):
    """Deployments on the metadata store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- packages ---------------------------------------------------------------------------
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
        if not pipeline or len(pipeline) > 255:
            raise ValidationError(f"pipeline name {pipeline!r} must have 1-255 characters")
        for _attempt in range(5):  # a concurrent build may take the same version number
            existing = self._by_digest(digest)
            if existing is not None:
                return existing
            try:
                with write_transaction(self._engine) as conn:
                    top = conn.execute(
                        sa.select(sa.func.max(_PKG.version)).where(_PKG.pipeline == pipeline)
                    ).scalar()
                    taken = (
                        version is not None
                        and conn.execute(
                            sa.select(_PKG.id).where(
                                _PKG.pipeline == pipeline, _PKG.version == version
                            )
                        ).first()
                    )
                    number = version if version is not None and not taken else int(top or 0) + 1
                    row = {
                        "id": new_id(),
                        "pipeline": pipeline,
                        "version": number,
                        "digest": digest,
                        "uri": uri,
                        "files_digest": files_digest,
                        "graph_version": graph_version,
                        "code_digest": code_digest,
                        "manifest": dict(manifest),
                        "created_by": created_by,
                        "created_at": utc_now(),
                    }
                    conn.execute(pipeline_packages.insert().values(row))
                return _package(row)
            except sa.exc.IntegrityError:
                continue
        raise DeploymentConflictError(
            f"could not register a package of {pipeline!r}: other builds kept taking its "
            "version number; try again"
        )

    def _by_digest(self, digest: str) -> PipelinePackage | None:
        with read_transaction(self._engine) as conn:
            row = conn.execute(sa.select(pipeline_packages).where(_PKG.digest == digest)).first()
        return None if row is None else _package(row._mapping)

    def get_package(self, reference: str) -> PipelinePackage:
        ref = reference.strip()
        name, sep, version = ref.rpartition(":")
        with read_transaction(self._engine) as conn:
            if sep and version.isdigit():
                stmt = sa.select(pipeline_packages).where(
                    _PKG.pipeline == name, _PKG.version == int(version)
                )
                rows = list(conn.execute(stmt))
            else:
                rows = list(
                    conn.execute(
                        sa.select(pipeline_packages).where(
                            sa.or_(_PKG.id == ref, _PKG.digest == ref)
                        )
                    )
                )
                if not rows and len(ref) >= MIN_PREFIX:
                    prefix = ref.replace("%", "").replace("_", "")
                    rows = list(
                        conn.execute(
                            sa.select(pipeline_packages)
                            .where(
                                sa.or_(_PKG.id.like(prefix + "%"), _PKG.digest.like(prefix + "%"))
                            )
                            .limit(2)
                        )
                    )
        if len(rows) == 1:
            return _package(rows[0]._mapping)
        if len(rows) > 1:
            raise ValidationError(f"package reference {reference!r} is ambiguous; give more of it")
        raise NotFoundError(
            f"no pipeline package {reference!r} in this environment's store; list them with "
            "`mloop pipeline list` (a package from another environment arrives there with "
            "`mloop deploy` or `mloop promote`)"
        )

    def list_packages(
        self, pipeline: str | None = None, *, limit: int = 100
    ) -> list[PipelinePackage]:
        stmt = sa.select(pipeline_packages)
        if pipeline is not None:
            stmt = stmt.where(_PKG.pipeline == pipeline)
        stmt = stmt.order_by(_PKG.created_at.desc(), _PKG.version.desc()).limit(limit)
        with read_transaction(self._engine) as conn:
            return [_package(r._mapping) for r in conn.execute(stmt)]

    # -- environments -----------------------------------------------------------------------
    def record_environment(self, name: str, policy: Mapping[str, Any]) -> None:
        now = utc_now()
        with write_transaction(self._engine) as conn:
            updated = conn.execute(
                environments.update()
                .where(environments.c.name == name)
                .values(promotion=dict(policy), updated_at=now)
            ).rowcount
            if not updated:
                conn.execute(
                    environments.insert().values(name=name, promotion=dict(policy), updated_at=now)
                )

    # -- deployments ------------------------------------------------------------------------
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
        if not reason or not reason.strip():
            raise ValidationError("a deployment needs a reason: --reason 'why this version'")
        slot = _slot(environment, package.pipeline)
        with write_transaction(self._engine) as conn:
            base = conn.execute(sa.select(_DEP.id).where(_DEP.active_slot == slot)).scalar()
            row = {
                "id": new_id(),
                "environment": environment,
                "pipeline": package.pipeline,
                "package_id": package.id,
                "package_digest": package.digest,
                "state": DeploymentState.PENDING_APPROVAL.value,
                "kind": DeploymentKind(kind).value,
                "approval": approval,
                "active_slot": None,
                "base_id": base,
                "source_environment": source_environment,
                "requested_by": requested_by,
                "requested_at": utc_now(),
                "reason": reason.strip(),
                "decided_by": None,
                "decided_at": None,
                "decision_reason": None,
                "activated_at": None,
                "ended_at": None,
                "details": dict(details or {}),
            }
            conn.execute(deployments.insert().values(row))
        return _deployment(row)

    def activate(
        self,
        deployment_id: str,
        *,
        decided_by: str,
        reason: str,
        previous_state: DeploymentState = DeploymentState.SUPERSEDED,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        target = self.get_deployment(deployment_id)
        slot = _slot(target.environment, target.pipeline)
        now = utc_now()
        winner: str | None = None
        try:
            with write_transaction(self._engine) as conn:
                row = conn.execute(
                    sa.select(deployments).where(_DEP.id == target.id).with_for_update()
                ).first()
                assert row is not None
                if row._mapping["state"] != DeploymentState.PENDING_APPROVAL.value:
                    raise ValidationError(
                        f"deployment {target.id} is {row._mapping['state']}, not pending; "
                        "only a pending deployment can be approved"
                    )
                current = conn.execute(
                    sa.select(_DEP.id).where(_DEP.active_slot == slot).with_for_update()
                ).scalar()
                if current != target.base_id:
                    winner = current
                    raise _Lost()
                if current is not None:
                    conn.execute(
                        deployments.update()
                        .where(_DEP.id == current)
                        .values(
                            state=DeploymentState(previous_state).value,
                            active_slot=None,
                            ended_at=now,
                        )
                    )
                conn.execute(
                    deployments.update()
                    .where(_DEP.id == target.id)
                    .values(
                        state=DeploymentState.ACTIVE.value,
                        active_slot=slot,
                        activated_at=now,
                        decided_by=decided_by,
                        decided_at=now,
                        decision_reason=reason,
                        details=_merged(row._mapping["details"], details),
                    )
                )
        except (_Lost, sa.exc.IntegrityError):
            if winner is None:
                winner = self._active_id(slot)
            why = (
                f"conflict: deployment {winner or '?'} became active in {target.environment} "
                f"after this one was requested against {target.base_id or 'nothing'}"
            )
            self._finish(target.id, DeploymentState.REJECTED, decided_by, why)
            raise DeploymentConflictError(
                f"{why}; nothing was changed. Look at `mloop deployments list --env "
                f"{target.environment}` and deploy again if this version is still wanted"
            ) from None
        return self.get_deployment(target.id)

    def _active_id(self, slot: str) -> str | None:
        with read_transaction(self._engine) as conn:
            return conn.execute(sa.select(_DEP.id).where(_DEP.active_slot == slot)).scalar()

    def _finish(
        self,
        deployment_id: str,
        state: DeploymentState,
        actor: str,
        why: str,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        now = utc_now()
        values: dict[str, Any] = {
            "state": state.value,
            "decided_by": actor,
            "decided_at": now,
            "decision_reason": why,
            "ended_at": now,
        }
        pending = (_DEP.id == deployment_id, _DEP.state == DeploymentState.PENDING_APPROVAL.value)
        with write_transaction(self._engine) as conn:
            if details:
                row = conn.execute(
                    sa.select(_DEP.details).where(*pending).with_for_update()
                ).first()
                if row is None:
                    return 0
                values["details"] = _merged(row[0], details)
            return int(conn.execute(deployments.update().where(*pending).values(values)).rowcount)

    def reject(
        self,
        deployment_id: str,
        *,
        decided_by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        target = self.get_deployment(deployment_id)
        if not self._finish(target.id, DeploymentState.REJECTED, decided_by, reason, details):
            raise ValidationError(
                f"deployment {target.id} is {target.state.value}, not pending; "
                "only a pending deployment can be rejected"
            )
        return self.get_deployment(target.id)

    def get_deployment(self, deployment_id: str) -> Deployment:
        ref = deployment_id.strip().lower()
        with read_transaction(self._engine) as conn:
            rows = list(conn.execute(sa.select(deployments).where(_DEP.id == ref)))
            if not rows and len(ref) >= MIN_PREFIX and ref.isalnum():
                rows = list(
                    conn.execute(sa.select(deployments).where(_DEP.id.like(ref + "%")).limit(2))
                )
        if len(rows) == 1:
            return _deployment(rows[0]._mapping)
        if len(rows) > 1:
            raise ValidationError(f"deployment id prefix {deployment_id!r} is ambiguous")
        raise NotFoundError(
            f"no deployment {deployment_id!r} in this environment's store; list them with "
            "`mloop deployments list --env ENV`"
        )

    def list_deployments(
        self,
        *,
        environment: str | None = None,
        pipeline: str | None = None,
        states: tuple[DeploymentState, ...] | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        stmt = sa.select(deployments)
        if environment is not None:
            stmt = stmt.where(_DEP.environment == environment)
        if pipeline is not None:
            stmt = stmt.where(_DEP.pipeline == pipeline)
        if states is not None:
            stmt = stmt.where(_DEP.state.in_([DeploymentState(s).value for s in states]))
        stmt = stmt.order_by(_DEP.requested_at.desc(), _DEP.id.desc()).limit(limit)
        with read_transaction(self._engine) as conn:
            return [_deployment(r._mapping) for r in conn.execute(stmt)]


class _Lost(Exception):
    """Internal: the compare-and-swap saw another active deployment (rolls the txn back)."""
