"""The load CD gate: with ``gates.loadtest: true`` an environment takes a package only when each
of its model versions has a recorded ``mloop loadtest`` within the project's ``loadtest:``
budget. The figures are read back from the version's latest load-test run (not its rounded
tags) and judged against the budget as it is now, so a budget tightened since is applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mloop.cicd.gates.model import PackageModel
from mloop.cicd.gates.result import FAILED, PASSED, SKIPPED, GateResult
from mloop.cicd.loadtest.run import LoadBudget, LoadResult, check_budget

__all__ = ["RUN_TAG", "check_loadtest", "recorded_load"]

RUN_TAG = "mloop.loadtest.run_id"
"""The version tag naming its latest load-test run (written by ``mloop loadtest``)."""


def recorded_load(model: PackageModel) -> LoadResult | None:
    """The latest load test of ``model``'s version, from its run (None: never load-tested)."""
    run_id = model.version.tags.get(RUN_TAG)
    if not run_id:
        return None
    store = model.environment.store
    run = store.get_run(run_id)
    metrics = store.latest_metrics([run_id]).get(run_id, {})
    if "qps" not in metrics:
        return None
    params = run.params
    return LoadResult(
        url=params.get("url", ""),
        concurrency=int(float(params.get("concurrency", 0))),
        rows=int(float(params.get("rows", 0))),
        duration_s=float(params.get("duration_s", 0)),
        requests=int(metrics.get("requests", 0)),
        errors=0,
        qps=metrics["qps"],
        p50_ms=metrics.get("p50_ms"),
        p99_ms=metrics.get("p99_ms"),
        error_rate=metrics.get("error_rate", 0.0),
    )


def check_loadtest(
    environment: str,
    required: bool,
    budget: Mapping[str, Any],
    models: Sequence[PackageModel],
    where: str,
) -> GateResult:
    """Every model of ``models`` has a load test within ``budget`` (the ``loadtest:`` section
    of mloop.yaml); ``where`` names the environments searched for them."""
    if not required:
        return GateResult("loadtest", SKIPPED, f"{environment} sets no gates.loadtest")
    limits = LoadBudget.from_dict(budget)
    if not models:
        return GateResult(
            "loadtest",
            FAILED,
            f"{environment} needs a load test but no model version registered by a succeeded "
            f"run of this package was found in {where}; run the package there first",
        )
    problems: list[str] = []
    facts: dict[str, Any] = {"budget": dict(budget), "models": {}}
    for model in models:
        uri = model.version.model_uri
        found = recorded_load(model)
        if found is None:
            problems.append(
                f"{model.label} has no recorded load test: run "
                f"`mloop loadtest {uri} --env {model.environment.name}`"
            )
            continue
        facts["models"][uri] = {
            "run_id": model.version.tags[RUN_TAG],
            "qps": found.qps,
            "p50_ms": found.p50_ms,
            "p99_ms": found.p99_ms,
            "error_rate": found.error_rate,
        }
        problems += [f"{model.label}: {p}" for p in check_budget(found, limits)]
    if problems:
        return GateResult(
            "loadtest", FAILED, f"{environment}'s load budget: " + "; ".join(problems), facts
        )
    names = ", ".join(m.label for m in models)
    within = f"the loadtest budget {dict(budget)}" if budget else "a recorded load test"
    return GateResult("loadtest", PASSED, f"{names} meets {within}", facts)
