"""Deploy, approve, promote and roll back pipeline packages, under each environment's policy.

The policy of an environment (``promotion:`` in ``mloop.yaml``, see :class:`PromotionPolicy`):

- ``from``: where its packages must come from. A package deployed there must have been deployed
  (active, now or before) in that environment; without ``from`` any package built or known
  in the project's build environment (the default environment) may be deployed.
- ``approval``: ``auto`` activates at once; ``review`` waits for ``mloop approve`` (anyone);
  ``manual`` waits for ``mloop approve`` by someone other than who asked.
- ``min_successful_runs``: the ``from`` environment's metadata store must hold that many
  succeeded runs of this exact package (runs tagged with its digest by the controller), checked
  when the deployment is asked for and again when it is approved.

The environment's CD gates (:mod:`mloop.cicd.gates.run`) run when a deployment is asked for and
again when it is approved, since it may wait days while the environment changes.

A rollback re-activates the package of the deployment the active one superseded, at once (it
returns to a version that was already approved there) and is recorded like any deployment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from mloop.cicd.environments import Environment, current_actor, environment_names, open_environment
from mloop.cicd.gates.model import package_run_ids
from mloop.cicd.gates.result import OVERRIDDEN, GateResult
from mloop.cicd.gates.run import check_overrides, run_gates
from mloop.cicd.packages import copy_package
from mloop.errors import ConfigError, GateRefusedError, NotFoundError, PromotionRefusedError
from mloop.metadata.deployments import (
    Deployment,
    DeploymentKind,
    DeploymentState,
    PipelinePackage,
)
from mloop.pipelines.packaged import DEPLOYMENT_TAG, PACKAGE_TAG

__all__ = [
    "DEPLOYMENT_TAG",
    "PACKAGE_TAG",
    "DeployResult",
    "approve",
    "deploy",
    "find_deployment",
    "promote",
    "reject",
    "rollback",
    "successful_runs",
]


@dataclass(frozen=True)
class DeployResult:
    """A deployment and the package it deploys (as known in the target environment)."""

    deployment: Deployment
    package: PipelinePackage
    environment: str


def successful_runs(env: Environment, pipeline: str, digest: str) -> int:
    """Succeeded runs in ``env``'s store of the package ``digest`` of ``pipeline`` (the runs
    the controller tagged with that digest and deployment; any pipeline function name)."""
    return len(package_run_ids(env, pipeline, digest))


def _once_active_in(env: Environment, pipeline: str, digest: str) -> bool:
    return any(
        d.package_digest == digest and d.activated_at is not None
        for d in env.deployments.list_deployments(
            environment=env.name, pipeline=pipeline, limit=1000
        )
    )


def _check_policy(
    target: Environment, source: Environment | None, package: PipelinePackage
) -> None:
    """Raise ``PromotionRefusedError`` unless ``target``'s policy lets ``package`` in now."""
    policy = target.policy
    if policy.source is None:
        return
    if source is None or source.name != policy.source:
        raise PromotionRefusedError(
            f"{target.name} takes packages from {policy.source} only "
            f"(promotion.from in mloop.yaml): mloop promote {package.pipeline} "
            f"--from {policy.source} --to {target.name}"
        )
    if not _once_active_in(source, package.pipeline, package.digest):
        raise PromotionRefusedError(
            f"package {package.short} of {package.pipeline} was never deployed in "
            f"{source.name}; deploy it there first (mloop deploy {package.pipeline} "
            f"--env {source.name} --package {package.short})"
        )
    need = policy.min_successful_runs
    if need:
        have = successful_runs(source, package.pipeline, package.digest)
        if have < need:
            raise PromotionRefusedError(
                f"{target.name} needs {need} succeeded runs of package {package.short} in "
                f"{source.name} (promotion.min_successful_runs); {source.name} has {have}. "
                f"Let its controller run it (or `mloop trigger {package.pipeline} --env "
                f"{source.name} --now --reason ...`) and try again"
            )


def _source_env(
    project_dir: Path | None, target: Environment, source: str | None
) -> Environment | None:
    name = source or target.policy.source
    if name is None:
        default = open_environment(project_dir, None)
        return None if default.name == target.name else default
    if name == target.name:
        raise ConfigError(f"an environment cannot promote into itself ({name})")
    return open_environment(project_dir, name)


def _resolve_package(
    target: Environment, source: Environment | None, pipeline: str, reference: str | None
) -> tuple[PipelinePackage, Environment | None]:
    """The package to deploy and the environment it comes from (None: already in target)."""
    if reference is not None:
        for env in (source, target):
            if env is None:
                continue
            try:
                found = env.deployments.get_package(reference)
            except NotFoundError:
                continue
            if found.pipeline != pipeline:
                raise ConfigError(
                    f"package {reference!r} is a package of {found.pipeline!r}, not {pipeline!r}"
                )
            return found, (env if env is not target else None)
        where = ", ".join(e.name for e in (source, target) if e is not None)
        raise NotFoundError(
            f"no package {reference!r} of {pipeline} in {where}; build one with "
            f"`mloop pipeline build {pipeline}` or list them with `mloop pipeline list`"
        )
    origin = source or target
    if source is not None and target.policy.source == source.name:
        active = source.deployments.active_deployment(source.name, pipeline)
        if active is None:
            raise NotFoundError(
                f"{pipeline} has no active deployment in {source.name} to promote; deploy one "
                f"there first, or name a package with --package"
            )
        return source.deployments.get_package(active.package_id), source
    newest = [
        (builds[0], env)
        for env in (target, source)
        if env is not None and (builds := env.deployments.list_packages(pipeline, limit=1))
    ]
    if not newest:
        raise NotFoundError(
            f"no package of {pipeline} in {origin.name}; build one with "
            f"`mloop pipeline build {pipeline} --env {origin.name}`"
        )
    package, holder = max(newest, key=lambda pair: pair[0].created_at)  # the latest build
    return package, (holder if holder is not target else None)


def deploy(
    project_dir: Path | None,
    pipeline: str,
    env: str,
    *,
    package: str | None = None,
    source: str | None = None,
    reason: str,
    actor: str | None = None,
    kind: DeploymentKind = DeploymentKind.DEPLOY,
    override_gates: Collection[str] = (),
) -> DeployResult:
    """Ask for ``package`` to be ``pipeline``'s active package in ``env`` (default: the one
    active in the policy's ``from`` environment, else the newest built in ``env`` or in the
    source environment); active at once under ``approval: auto``, else pending until
    :func:`approve`. The environment's CD gates run first (:mod:`mloop.cicd.gates.run`): their
    results are recorded with the deployment, which is rejected (``GateRefusedError``) when one
    fails that ``override_gates`` does not name."""
    who = actor or current_actor()
    check_overrides(override_gates)
    target = open_environment(project_dir, env)
    origin = _source_env(project_dir, target, source)
    found, holder = _resolve_package(target, origin, pipeline, package)
    _check_policy(target, holder if holder is not None else origin, found)
    local = copy_package(holder, target, found) if holder is not None else found
    sources = [e for e in (holder, origin, target) if e is not None]
    gates = run_gates(target, local, sources, overrides=override_gates, actor=who, reason=reason)
    policy = target.policy
    target.deployments.record_environment(target.name, policy.model_dump(by_alias=True))
    deployment = target.deployments.request_deployment(
        target.name,
        local,
        requested_by=who,
        reason=reason,
        approval=policy.approval,
        kind=kind,
        source_environment=holder.name if holder is not None else None,
        details={"package_version": local.version, "gates": [g.to_dict() for g in gates]},
    )
    _reject_on_failed_gates(target, deployment.id, gates, "CD gates failed")
    if policy.approval == "auto":
        deployment = target.deployments.activate(
            deployment.id, decided_by=who, reason="approval: auto (promotion policy)"
        )
    return DeployResult(deployment, local, target.name)


def find_deployment(
    project_dir: Path | None, deployment_id: str, env: str | None = None
) -> tuple[Environment, Deployment]:
    """The environment holding ``deployment_id`` (each environment keeps its own), and it."""
    names = (env,) if env else environment_names(project_dir) or (None,)
    for name in names:
        candidate = open_environment(project_dir, name)
        try:
            return candidate, candidate.deployments.get_deployment(deployment_id)
        except NotFoundError:
            continue
    raise NotFoundError(
        f"no deployment {deployment_id!r} in any environment ({', '.join(map(str, names))}); "
        "list them with `mloop deployments list`"
    )


def approve(
    project_dir: Path | None,
    deployment_id: str,
    *,
    reason: str,
    actor: str | None = None,
    env: str | None = None,
    override_gates: Collection[str] = (),
) -> DeployResult:
    """Approve a pending deployment: it becomes active if the policy still allows it and the
    environment's CD gates pass again now (a deployment may wait days for its approval, while
    the environment, its targets or the model's load tests change). Their results are recorded
    as ``details["approval_gates"]``; a failure not overridden rejects the deployment
    (``GateRefusedError``), as at the request."""
    who = actor or current_actor()
    if not reason or not reason.strip():
        raise ConfigError("an approval needs a reason: --reason 'what was checked'")
    check_overrides(override_gates)
    target, deployment = find_deployment(project_dir, deployment_id, env)
    if deployment.state is not DeploymentState.PENDING_APPROVAL:
        raise PromotionRefusedError(
            f"deployment {deployment.id} is {deployment.state.value}; only a pending one can "
            "be approved"
        )
    if deployment.approval == "manual" and who == deployment.requested_by:
        raise PromotionRefusedError(
            f"{target.name} needs a manual approval by someone other than {who}, who asked "
            f"for deployment {deployment.id} (promotion.approval: manual)"
        )
    package = target.deployments.get_package(deployment.package_id)
    origin = None
    if target.policy.source is not None:
        origin = open_environment(project_dir, target.policy.source)
        _check_policy(target, origin, package)
    held_in = deployment.source_environment  # where the package came from, as at the request
    holder = open_environment(project_dir, held_in) if held_in and held_in != target.name else None
    sources = [e for e in (holder, origin, target) if e is not None]
    why = reason.strip()
    gates = _approval_gates(target, package, sources, deployment, override_gates, who, why)
    record = {"approval_gates": [g.to_dict() for g in gates]}
    _reject_on_failed_gates(target, deployment.id, gates, "CD gates failed at approval", record)
    active = target.deployments.activate(deployment.id, decided_by=who, reason=why, details=record)
    return DeployResult(active, package, target.name)


def _reject_on_failed_gates(
    target: Environment,
    deployment_id: str,
    gates: list[GateResult],
    why: str,
    details: Mapping[str, object] | None = None,
) -> None:
    """Record the deployment as rejected by ``mloop gates`` (``why: gate, gate``) and raise
    ``GateRefusedError`` when a gate failed; nothing when all passed or were overridden."""
    failed = [g for g in gates if g.failed]
    if failed:
        target.deployments.reject(
            deployment_id,
            decided_by="mloop gates",
            reason=f"{why}: " + ", ".join(g.name for g in failed),
            details=details,
        )
        raise GateRefusedError(
            target.name, deployment_id, [f"{g.name}: {g.detail}" for g in failed]
        )


def _approval_gates(
    target: Environment,
    package: PipelinePackage,
    sources: list[Environment],
    deployment: Deployment,
    overrides: Collection[str],
    who: str,
    why: str,
) -> list[GateResult]:
    """The gates run again at approval. A gate overridden when the deployment was asked for
    stays overridden, credited to whoever overrode it then; the approver's own overrides are
    credited to the approver."""
    earlier = {
        g["name"]: g
        for g in deployment.details.get("gates", [])
        if isinstance(g, dict) and g.get("status") == OVERRIDDEN
    }
    names = set(overrides) | set(earlier)
    gates = run_gates(target, package, sources, overrides=names, actor=who, reason=why)
    return [
        replace(g, by=earlier[g.name].get("by"), why=earlier[g.name].get("why"))
        if g.status == OVERRIDDEN and g.name in earlier and g.name not in overrides
        else g
        for g in gates
    ]


def reject(
    project_dir: Path | None,
    deployment_id: str,
    *,
    reason: str,
    actor: str | None = None,
    env: str | None = None,
) -> DeployResult:
    """Refuse a pending deployment (recorded with who and why)."""
    if not reason or not reason.strip():
        raise ConfigError("a rejection needs a reason: --reason 'what is wrong'")
    target, deployment = find_deployment(project_dir, deployment_id, env)
    done = target.deployments.reject(
        deployment.id, decided_by=actor or current_actor(), reason=reason.strip()
    )
    return DeployResult(done, target.deployments.get_package(done.package_id), target.name)


def promote(
    project_dir: Path | None,
    pipeline: str,
    *,
    source: str,
    target: str,
    reason: str,
    actor: str | None = None,
    override_gates: Collection[str] = (),
) -> DeployResult:
    """Deploy into ``target`` the package active in ``source`` (under ``target``'s policy and
    gates)."""
    origin = open_environment(project_dir, source)
    active = origin.deployments.active_deployment(origin.name, pipeline)
    if active is None:
        raise NotFoundError(f"{pipeline} has no active deployment in {source} to promote")
    return deploy(
        project_dir,
        pipeline,
        target,
        package=active.package_digest,
        source=source,
        reason=reason,
        actor=actor,
        kind=DeploymentKind.PROMOTE,
        override_gates=override_gates,
    )


def rollback(
    project_dir: Path | None,
    pipeline: str,
    env: str,
    *,
    reason: str,
    actor: str | None = None,
) -> DeployResult:
    """Re-activate the package that was active before the current one in ``env``."""
    who = actor or current_actor()
    target = open_environment(project_dir, env)
    store = target.deployments
    current = store.active_deployment(target.name, pipeline)
    if current is None:
        raise NotFoundError(f"{pipeline} has no active deployment in {env} to roll back")
    history = store.list_deployments(environment=target.name, pipeline=pipeline, limit=1000)
    earlier = [
        d
        for d in history
        if d.state is DeploymentState.SUPERSEDED
        and d.activated_at is not None
        and current.activated_at is not None
        and d.activated_at <= current.activated_at
        and d.package_digest != current.package_digest
    ]
    if not earlier:
        raise NotFoundError(
            f"{pipeline} in {env} has no earlier deployment of another package to roll back to"
        )
    previous = max(earlier, key=lambda d: d.activated_at)  # type: ignore[arg-type,return-value]
    package = store.get_package(previous.package_id)
    request = store.request_deployment(
        target.name,
        package,
        requested_by=who,
        reason=reason,
        approval="rollback",
        kind=DeploymentKind.ROLLBACK,
        details={"rolled_back": current.id, "restores": previous.id},
    )
    active = store.activate(
        request.id,
        decided_by=who,
        reason=f"rollback of {current.id} to the package of {previous.id}",
        previous_state=DeploymentState.ROLLED_BACK,
    )
    return DeployResult(active, package, target.name)
