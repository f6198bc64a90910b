"""Checks (b)-(f) of ``mloop ci`` on one smoke run, as :class:`CheckResult` rows of the suite
``pipeline:<name>``: the run itself, declared artifacts, integration between steps, no NaN/inf,
converging curves and the overfit check of ``train`` steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mloop.cicd.ci.config import CiConfig
from mloop.cicd.ci.convergence import judge_curves, overfit_score
from mloop.cicd.ci.finite import non_finite_in_metrics, non_finite_in_value
from mloop.cicd.ci.graph_checks import check_declared_outputs, check_integration, recorded_run
from mloop.cicd.ci.results import CheckResult
from mloop.cicd.ci.smoke import SmokeRun

__all__ = ["check_smoke_run", "suite_of"]

SKIP_LOADING = {"Model"}  # artifact types the NaN check does not open (train checks models)


def suite_of(pipeline: str) -> str:
    return f"pipeline:{pipeline}"


def _timed(suite: str, name: str, check: Callable[[], tuple[str, str, str]]) -> CheckResult:
    """Run one check: ``check`` returns (status, message, details); an exception is an error."""
    started = time.monotonic()
    try:
        status, message, details = check()
    except Exception as exc:  # a check that cannot run is reported, never hides the others
        status, message, details = "error", f"{type(exc).__name__}: {exc}", ""
    return CheckResult(suite, name, status, message, details, time.monotonic() - started)  # type: ignore[arg-type]


def _verdict(problems: list[str], ok: str) -> tuple[str, str, str]:
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return "failed", problems[0] + more, "\n".join(problems)
    return "passed", ok, ""


def check_smoke_run(smoke: SmokeRun, config: CiConfig) -> list[CheckResult]:
    """Every per-pipeline check of ``smoke``."""
    suite = suite_of(smoke.pipeline)
    handle = smoke.handle
    results = [
        CheckResult(
            suite,
            "smoke run",
            "failed" if smoke.error else "passed",
            smoke.error.splitlines()[0]
            if smoke.error
            else f"run {handle.id if handle else '?'} succeeded with params {smoke.params}",
            smoke.error or "",
            smoke.duration_s,
        )
    ]
    if handle is None or smoke.graph is None:
        reason = "the smoke run did not start"
        return results + [
            CheckResult(suite, name, "skipped", reason)
            for name in (
                "declared artifacts",
                "integration between steps",
                "no NaN/inf",
                "training converges",
                "overfits a small sample",
            )
        ]
    from mloop.artifacts import connect as connect_artifacts

    store = smoke.store
    artifacts = connect_artifacts(smoke.settings.artifact_root)
    spec = smoke.graph.spec()
    recorded = recorded_run(store, handle.id)
    metrics = store.get_metrics(handle.id)

    def declared() -> tuple[str, str, str]:
        problems = check_declared_outputs(spec, recorded, artifacts.exists)
        outputs = sum(len(s.get("outputs", [])) for s in spec["steps"].values())
        return _verdict(problems, f"{len(spec['steps'])} steps, {outputs} declared outputs")

    def integration() -> tuple[str, str, str]:
        checked, problems = check_integration(spec, recorded)
        return _verdict(problems, f"{checked} step inputs are their producers' outputs")

    def finite() -> tuple[str, str, str]:
        from mloop.pipelines.materializers import load_value

        problems = non_finite_in_metrics(metrics, "run")
        opened = 0
        for step, outputs in recorded.outputs.items():
            for name, artifact_id in outputs.items():
                art = store.get_artifact(artifact_id)
                if art.type in SKIP_LOADING or art.materializer is None:
                    continue
                value = load_value(artifacts, art.uri, art.materializer, digest=art.digest)
                problems += non_finite_in_value(value, f"{step}.{name}")
                opened += 1
        return _verdict(problems, f"{opened} outputs and {len(metrics)} metric values are finite")

    def curves() -> tuple[str, str, str]:
        good, problems = judge_curves(metrics, "run")
        if not good and not problems:
            return "skipped", "no metric was logged at several steps (e.g. a loss curve)", ""
        return _verdict(problems, f"{len(good)} curves moved the right way: " + "; ".join(good))

    def overfit() -> tuple[str, str, str]:
        return _overfit(smoke, store, artifacts, config)

    return [
        *results,
        _timed(suite, "declared artifacts", declared),
        _timed(suite, "integration between steps", integration),
        _timed(suite, "no NaN/inf", finite),
        _timed(suite, "training converges", curves),
        _timed(suite, "overfits a small sample", overfit),
    ]


def _overfit(smoke: SmokeRun, store: Any, artifacts: Any, config: CiConfig) -> tuple[str, str, str]:
    from mloop.components.train import train as train_step
    from mloop.metadata.entities import EventKind
    from mloop.pipelines.materializers import load_value

    assert smoke.graph is not None and smoke.handle is not None
    nodes = [n for n in smoke.graph if n.step is train_step]
    if not nodes:
        return "skipped", "no step of the train component (mloop.components.train)", ""
    latest = {ex.step_name: ex for ex in store.list_executions(smoke.handle.id)}
    lines, problems = [], []
    for node in nodes:
        ex = latest.get(node.name)
        if ex is None or not ex.state.done_ok:
            problems.append(f"{node.name}: did not succeed in the smoke run")
            continue
        data_id = next(
            (
                e.artifact_id
                for e in store.list_events(execution_id=ex.id)
                if e.kind is EventKind.INPUT and e.name == "data"
            ),
            None,
        )
        if data_id is None:
            problems.append(f"{node.name}: recorded no input 'data'")
            continue
        art = store.get_artifact(data_id)
        data = load_value(artifacts, art.uri, art.materializer, digest=art.digest)
        params = {**node.params, **ex.params}
        metric, score, rows = overfit_score(data, params, config.overfit_rows)
        line = f"{node.name}: {metric} {score:.3f} on the {rows} rows it was fitted on"
        if score < config.overfit_min_score:
            problems.append(f"{line}, below {config.overfit_min_score} (ci.overfit.min_score)")
        else:
            lines.append(line)
    return _verdict(problems, "; ".join(lines))
