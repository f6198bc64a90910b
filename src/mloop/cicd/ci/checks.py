"""``mloop ci``: the checks the source text asks of a pipeline's continuous integration, run on
the user's own project.

    (a) unit tests of the feature logic       pytest on ``ci.tests`` (default ``tests/``)
    (b) a smoke run of every pipeline         on its ``ci.params`` sample config, into a
                                              throwaway store (see :mod:`mloop.cicd.ci.smoke`)
    (c) training converges                    step-indexed curves move the right way; each
                                              ``train`` step can overfit a small sample
    (d) no NaN/inf                            in the run's outputs and metrics
    (e) declared artifacts                    every step recorded every output it declares
    (f) integration between steps             each input is its producer's output (events)
    (g) serving contract                      the trained signature is compatible with the
                                              model the target environment serves now

:func:`run_ci` returns a :class:`~mloop.cicd.ci.results.CiReport`; it passes when no check failed
or errored. The report is recorded as a run of the experiment ``ci`` in the target
environment's store (params, metrics ``checks_*``, tags ``mloop.ci.*``, the JUnit XML as an
artifact), so ``mloop runs list --experiment ci`` shows the history.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from mloop.cicd.ci.config import CiConfig, load_ci_config
from mloop.cicd.ci.contract_check import check_serving_contract
from mloop.cicd.ci.pipeline_checks import check_smoke_run, suite_of
from mloop.cicd.ci.results import CheckResult, CiReport
from mloop.cicd.ci.smoke import smoke_run
from mloop.cicd.ci.unit_tests import run_unit_tests
from mloop.config import Settings

__all__ = ["EXPERIMENT", "record_report", "run_ci"]

EXPERIMENT = "ci"


def run_ci(settings: Settings, *, config: CiConfig | None = None) -> CiReport:
    """Run every check for the project of ``settings`` (its environment is the target)."""
    config = config or load_ci_config(settings.project_file)
    started = time.monotonic()
    report = CiReport(settings.project, settings.environment)
    report.checks += run_unit_tests(settings.project_dir, config.tests, timeout_s=config.timeout_s)
    names = list(config.pipelines) if config.pipelines is not None else list(settings.pipelines)
    if not names:
        report.checks.append(
            CheckResult(
                "pipelines",
                "smoke runs",
                "skipped",
                "no pipelines to smoke-run (mloop.yaml, ci.pipelines)",
            )
        )
    with tempfile.TemporaryDirectory(prefix="mloop-ci-") as tmp:
        for name in names:
            configured = settings.pipelines.get(name)
            if configured is None:
                report.checks.append(
                    CheckResult(
                        suite_of(name),
                        "smoke run",
                        "error",
                        f"ci.pipelines names {name!r}, which mloop.yaml's pipelines lack",
                    )
                )
                continue
            params = {**configured.params, **config.params.get(name, {})}
            smoke = smoke_run(name, configured.entrypoint, params, settings, Path(tmp) / name)
            report.checks += check_smoke_run(smoke, config)
            report.checks.append(check_serving_contract(smoke, config, settings))
        unknown = sorted(set(config.params) - set(settings.pipelines))
        if unknown:
            report.checks.append(
                CheckResult(
                    "pipelines",
                    "ci.params",
                    "error",
                    f"ci.params names pipelines mloop.yaml lacks: {unknown}",
                )
            )
    report.duration_s = time.monotonic() - started
    return report


def _commit(project_dir: Path) -> str | None:
    """The commit under test: the CI system's variable, else ``git rev-parse HEAD``."""
    for var in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def record_report(report: CiReport, settings: Settings, junit_xml: str) -> str:
    """Record ``report`` as a run of the ``ci`` experiment in the environment's stores;
    returns its id. The run ends ``failed`` when CI failed, so run listings show it."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.metadata import connect
    from mloop.metadata.entities import RunState
    from mloop.tracking import fluent

    counts = report.counts()
    commit = _commit(settings.project_dir)
    tags = {
        "mloop.ci.result": "passed" if report.passed else "failed",
        "mloop.ci.environment": report.environment,
        **({"mloop.ci.commit": commit} if commit else {}),
    }
    run = fluent.start_run(
        EXPERIMENT,
        run_name=f"ci {report.environment}",
        tags=tags,
        store=connect(settings.metadata_url),
        artifacts=connect_artifacts(settings.artifact_root),
    )
    failed = [c for c in report.checks if not c.ok]
    try:
        fluent.log_params(
            {
                "environment": report.environment,
                "pipelines": ",".join(
                    sorted({c.suite.split(":", 1)[1] for c in report.checks if ":" in c.suite})
                ),
            }
        )
        fluent.log_metrics(
            {
                **{f"checks_{k}": float(v) for k, v in counts.items()},
                "duration_s": report.duration_s,
            }
        )
        with tempfile.TemporaryDirectory(prefix="mloop-ci-report-") as tmp:
            path = Path(tmp) / "junit.xml"
            path.write_text(junit_xml, encoding="utf-8")
            fluent.log_artifact(path, "junit.xml", artifact_type="Report")
    finally:
        error = "; ".join(f"{c.suite} / {c.name}: {c.message}" for c in failed)[:1000]
        fluent.end_run(RunState.FAILED if failed else RunState.SUCCEEDED, error=error or None)
    return run.id
