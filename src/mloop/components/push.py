"""The ``push`` component: register the candidate and move the environment's alias, only when
it is blessed (model validation) AND infra-blessed; otherwise record why not.

The decision is the step's output (a JSON artifact) and tags on the run (``mloop.push`` =
``promoted`` | ``unchanged`` | ``refused``, ``mloop.push.reason``), so ``mloop runs show``
answers "why was this model not deployed?".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mloop.components.infra_validate import InfraBlessing
from mloop.components.model_artifacts import register_model_materializers
from mloop.components.run_links import current_links, project_registry, step_environment
from mloop.evaluation import Blessing
from mloop.models import ModelPackage
from mloop.pipelines.dsl import step

__all__ = ["PushDecision", "alias_for_environment", "push", "push_model"]

register_model_materializers()


def alias_for_environment(environment: str) -> str:
    """The alias an environment deploys: ``production`` for prod, ``staging`` for staging and
    pre-production, else the environment's own name (``dev``)."""
    env = environment.lower()
    if env in ("prod", "production"):
        return "production"
    if env in ("staging", "stage", "preprod", "pre-production"):
        return "staging"
    return env


@dataclass(frozen=True)
class PushDecision:
    """What push did: ``outcome`` is promoted, unchanged (the alias already serves this
    package) or refused; ``reasons`` say why."""

    outcome: str
    model: str
    alias: str
    reasons: list[str] = field(default_factory=list)
    version: int | None = None
    previous_version: int | None = None

    @property
    def pushed(self) -> bool:
        return self.outcome == "promoted"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pushed": self.pushed}


def push_model(
    package: ModelPackage,
    blessing: Blessing,
    infra: InfraBlessing,
    *,
    name: str,
    alias: str,
    registry: Any = None,
    run_id: str | None = None,
    artifact_id: str | None = None,
    data_artifact_id: str | None = None,
    metrics: dict[str, float] | None = None,
    actor: str | None = None,
) -> PushDecision:
    """Register and promote when both blessings hold (see the module doc)."""
    registry = registry or project_registry()
    reasons = [f"model validation: {r}" for r in blessing.reasons]
    if not blessing.blessed and not reasons:
        reasons.append("model validation did not bless the candidate")
    reasons += [f"infra validation: {r}" for r in infra.reasons]
    if not infra.blessed and not infra.reasons:
        reasons.append("infra validation did not bless the candidate")
    current = registry.get_alias(name, alias) if _exists(registry, name) else None
    previous = None if current is None else current.version
    if reasons:
        return PushDecision("refused", name, alias, reasons, None, previous)
    if current is not None and current.digest == package.digest:
        why = f"{name}@{alias} already serves this package (v{current.version})"
        return PushDecision("unchanged", name, alias, [why], current.version, previous)
    same = (
        [v for v in registry.list_versions(name) if v.digest == package.digest]
        if _exists(registry, name)
        else []
    )
    version = (
        same[0]
        if same
        else registry.register_model(
            name,
            package,
            run_id=run_id,
            artifact_id=artifact_id,
            data_artifact_id=data_artifact_id,
            metrics=metrics if metrics is not None else blessing.metrics,
            tags={"blessed": "true", "infra_blessed": "true"},
            actor=actor,
        )
    )
    base = blessing.baseline or "no baseline (first model)"
    why = (
        f"blessed against {base} ({len(blessing.checks)} checks passed); infra-blessed "
        f"(p95 {infra.latency_p95_ms or 0:.1f} ms, {infra.rss_mb or 0:.0f} MB)"
        + (f"; run {run_id}" if run_id else "")
    )
    registry.set_alias(name, alias, version.version, reason=why, actor=actor)
    return PushDecision("promoted", name, alias, [why], version.version, previous)


def _exists(registry: Any, name: str) -> bool:
    from mloop.errors import ModelNotFoundError

    try:
        registry.get_model(name)
    except ModelNotFoundError:
        return False
    return True


@step(cache=False)
def push(
    model: ModelPackage,
    blessing: Blessing,
    infra_blessing: InfraBlessing,
    name: str,
    alias: str | None = None,
) -> dict[str, Any]:
    """Register ``model`` as a version of ``name`` and move ``alias`` (default: the
    environment's alias) when blessed and infra-blessed; output the decision."""
    import mloop

    links = current_links()
    artifact_id = links.input_artifact("model")
    data_artifact = None
    if artifact_id is not None:
        inputs = links.producer_inputs(artifact_id)
        data_artifact = next(iter(inputs.values()), None)
    decision = push_model(
        model,
        blessing,
        infra_blessing,
        name=name,
        alias=alias or alias_for_environment(step_environment()),
        run_id=links.run_id,
        artifact_id=artifact_id,
        data_artifact_id=data_artifact,
        actor=f"pipeline run {links.run_id}" if links.run_id else None,
    )
    mloop.set_tags(
        {
            "mloop.push": decision.outcome,
            "mloop.push.reason": "; ".join(decision.reasons)[:1000],
            **({"mloop.push.version": str(decision.version)} if decision.version else {}),
        }
    )
    return decision.to_dict()
