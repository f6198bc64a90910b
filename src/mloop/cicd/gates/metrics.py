"""The performance CD gate: an environment's ``gates.metrics`` targets (``accuracy: ">= 0.85"``)
against the evaluation metrics recorded for the package's model version (the registry
version's metrics, then its run's latest metrics). A metric the version lacks fails the gate:
a target nobody measured is not met."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence

from mloop.cicd.gates.model import PackageModel
from mloop.cicd.gates.result import FAILED, PASSED, SKIPPED, GateResult
from mloop.config import parse_threshold

__all__ = ["check_metrics", "metric_problems"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


def metric_problems(targets: Mapping[str, str], metrics: Mapping[str, float]) -> list[str]:
    """One sentence per target ``metrics`` misses (absent, NaN, or on the wrong side)."""
    problems = []
    for name, target in targets.items():
        op, limit = parse_threshold(target)
        value = metrics.get(name)
        if value is None:
            have = ", ".join(sorted(metrics)) or "none"
            problems.append(f"{name} is not recorded (target {op} {limit:g}; recorded: {have})")
        elif not math.isfinite(value) or not _OPS[op](value, limit):
            problems.append(f"{name} = {value:.6g}, target {op} {limit:g}")
    return problems


def recorded_metrics(model: PackageModel) -> dict[str, float]:
    """The version's registry metrics over its run's latest metrics."""
    merged: dict[str, float] = {}
    run_id = model.version.run_id
    if run_id:
        merged.update(model.environment.store.latest_metrics([run_id]).get(run_id, {}))
    merged.update(model.version.metrics or {})
    return merged


def check_metrics(
    environment: str, targets: Mapping[str, str], models: Sequence[PackageModel], where: str
) -> GateResult:
    """Every model of ``models`` must meet every target; ``where`` names the environments
    searched for them (for the message when there are none)."""
    if not targets:
        return GateResult("metrics", SKIPPED, f"{environment} sets no gates.metrics")
    if not models:
        return GateResult(
            "metrics",
            FAILED,
            f"{environment} needs metrics {dict(targets)} but no model version registered by "
            f"a succeeded run of this package was found in {where}; run the package there "
            "first (its push step registers the model)",
        )
    problems: list[str] = []
    facts: dict[str, object] = {"targets": dict(targets), "models": {}}
    for model in models:
        metrics = recorded_metrics(model)
        facts["models"][model.version.model_uri] = {  # type: ignore[index]
            k: metrics[k] for k in targets if k in metrics
        }
        problems += [f"{model.label}: {p}" for p in metric_problems(targets, metrics)]
    if problems:
        return GateResult(
            "metrics",
            FAILED,
            f"{environment}'s performance targets are not met: " + "; ".join(problems),
            facts,
        )
    names = ", ".join(m.label for m in models)
    return GateResult("metrics", PASSED, f"{names} meets {dict(targets)}", facts)
