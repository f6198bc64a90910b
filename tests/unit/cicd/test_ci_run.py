"""``run_ci`` on a small project: each check passes on a sound pipeline and fails on the bug
it is meant to catch; the smoke runs never touch the project's own store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mloop.cicd.ci.checks import record_report, run_ci
from mloop.cicd.ci.junit import to_junit_xml
from mloop.config import load_settings

PIPELINE = """
import numpy as np
import polars as pl

import mloop
from mloop import pipeline, step
from mloop.components.train import train


@step
def make(rows: int = 120, poison: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    z = rng.normal(size=rows)
    if poison:
        z[::7] = np.nan
    return pl.DataFrame({"x": x, "z": z, "y": np.where(x > 0, "yes", "no")})


@step
def watch(data: pl.DataFrame, rising: bool = False, explode: bool = False) -> dict:
    if explode:
        raise RuntimeError("feature logic broke")
    for i in range(4):
        mloop.log_metrics({"loss": 0.1 * (i + 1) if rising else 1.0 / (i + 1)}, step=i)
    return {"rows": data.height}


@pipeline(experiment="tiny")
def tiny(rows: int = 120, poison: bool = False, rising: bool = False, explode: bool = False):
    data = make(rows, poison=poison)
    watch(data, rising=rising, explode=explode)
    train(data, label="y", positive="yes", features=["x"])
"""


def write_project(folder: Path, ci: dict, *, tests: str | None = None) -> None:
    (folder / "pipelines").mkdir()
    (folder / "pipelines" / "tiny.py").write_text(PIPELINE, encoding="utf-8")
    doc = {
        "project": "tiny",
        "environments": {
            "dev": {"metadata": "sqlite:///.mloop/dev.db", "artifacts": ".mloop/dev"},
            "prod": {"metadata": "sqlite:///.mloop/prod.db", "artifacts": ".mloop/prod"},
        },
        "pipelines": {"tiny": {"entrypoint": "pipelines/tiny.py:tiny", "params": {"rows": 80}}},
        "ci": {"tests": None, "model": "tiny", **ci},
    }
    (folder / "mloop.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    if tests is not None:
        (folder / "tests").mkdir()
        (folder / "tests" / "test_logic.py").write_text(textwrap.dedent(tests), encoding="utf-8")


def statuses(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.name: c.status for c in report.checks}


def test_a_sound_pipeline_passes_and_leaves_the_real_store_alone(project_dir: Path) -> None:
    write_project(project_dir, {})
    report = run_ci(load_settings(project_dir))
    assert report.passed, [c for c in report.checks if not c.ok]
    found = statuses(report)
    assert found["smoke run"] == found["declared artifacts"] == "passed"
    assert found["integration between steps"] == found["no NaN/inf"] == "passed"
    assert found["training converges"] == found["overfits a small sample"] == "passed"
    assert found["schema matches the serving contract"] == "skipped"  # nothing served yet
    assert not (project_dir / ".mloop").exists()  # smoke runs went to a throwaway store


def test_each_broken_property_fails_its_own_check(project_dir: Path) -> None:
    write_project(project_dir, {"params": {"tiny": {"poison": True, "rising": True}}})
    report = run_ci(load_settings(project_dir))
    assert not report.passed
    found = {c.name: c for c in report.checks}
    assert found["no NaN/inf"].status == "failed"
    assert "make.output: column 'z' holds" in found["no NaN/inf"].message
    assert found["training converges"].status == "failed"
    assert "loss 0.1 -> 0.4" in found["training converges"].message
    assert found["declared artifacts"].status == "passed"


def test_a_failing_step_fails_the_smoke_run_and_its_outputs(project_dir: Path) -> None:
    write_project(project_dir, {"params": {"tiny": {"explode": True}}})
    found = {c.name: c for c in run_ci(load_settings(project_dir)).checks}
    assert found["smoke run"].status == "failed"
    assert "feature logic broke" in found["smoke run"].details
    assert found["declared artifacts"].status == "failed"
    assert "step 'watch' ended failed" in found["declared artifacts"].details


def test_the_overfit_floor_is_configurable(project_dir: Path) -> None:
    write_project(project_dir, {"overfit": {"rows": 8, "min_score": 1.0}})
    found = {c.name: c for c in run_ci(load_settings(project_dir)).checks}
    # 8 balanced rows of a separable label: a logistic regression ranks them perfectly
    assert found["overfits a small sample"].status == "passed", found["overfits a small sample"]


def serve_incompatible_model(project_dir: Path, env: str) -> None:
    """Register a model 'tiny' with inputs x and w under the alias of ``env``."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mloop.artifacts import connect as connect_artifacts
    from mloop.metadata import connect
    from mloop.models import save_model
    from mloop.registry import ModelRegistry

    settings = load_settings(project_dir, env=env)
    x = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "w": [1.0, 0.0, 1.0, 0.0]})
    package = save_model(
        LogisticRegression().fit(x, [0, 0, 1, 1]), project_dir / "m", input_example=x
    )
    registry = ModelRegistry(
        connect(settings.metadata_url), connect_artifacts(settings.artifact_root)
    )
    version = registry.register_model("tiny", package)
    alias = "production" if env == "prod" else env
    registry.set_alias("tiny", alias, version.version, reason="test")


def test_schema_is_checked_against_the_target_environment_only(project_dir: Path) -> None:
    write_project(project_dir, {})
    serve_incompatible_model(project_dir, "prod")
    dev = {c.name: c for c in run_ci(load_settings(project_dir, env="dev")).checks}
    assert dev["schema matches the serving contract"].status == "skipped"
    prod = {c.name: c for c in run_ci(load_settings(project_dir, env="prod")).checks}
    check = prod["schema matches the serving contract"]
    assert check.status == "failed"
    assert "tiny@production (v1, env 'prod'): input 'w' was removed" in check.message


def test_unit_tests_of_the_project_are_run_and_reported(project_dir: Path) -> None:
    tests = """
        def test_ok():
            assert 1 + 1 == 2

        def test_broken():
            assert [1, 2] == [1, 3]
    """
    write_project(project_dir, {"tests": "tests", "pipelines": []}, tests=tests)
    report = run_ci(load_settings(project_dir))
    units = {c.name: c for c in report.checks if c.suite == "unit-tests"}
    assert units["tests.test_logic::test_ok"].status == "passed"
    assert units["tests.test_logic::test_broken"].status == "failed"
    assert "assert [1, 2] == [1, 3]" in units["tests.test_logic::test_broken"].details
    assert not report.passed


def test_unknown_pipelines_in_ci_settings_are_errors(project_dir: Path) -> None:
    write_project(project_dir, {"pipelines": ["nope"], "params": {"other": {}}})
    checks = [c for c in run_ci(load_settings(project_dir)).checks if c.suite != "unit-tests"]
    assert [(c.suite, c.status) for c in checks] == [
        ("pipeline:nope", "error"),
        ("pipelines", "error"),
    ]


def test_the_report_is_recorded_as_a_ci_run(project_dir: Path) -> None:
    from mloop.metadata import connect

    write_project(project_dir, {"params": {"tiny": {"rising": True}}})
    settings = load_settings(project_dir)
    report = run_ci(settings)
    run_id = record_report(report, settings, to_junit_xml(report))
    store = connect(settings.metadata_url)
    run = store.get_run(run_id)
    assert run.experiment == "ci" and run.state.value == "failed"
    assert run.tags["mloop.ci.result"] == "failed" and run.tags["mloop.ci.environment"] == "dev"
    assert "training converges" in (run.error or "")
    latest = store.latest_metrics([run_id])[run_id]
    assert latest["checks_failed"] == 1.0 and latest["checks_passed"] >= 5
    assert "mloop.artifact.junit.xml" in run.tags
    assert [r.id for r in store.search_runs(experiment="ci")] == [run_id]


@pytest.mark.parametrize("bad", [{"overfit": {"rows": 2}}, {"bogus": 1}, {"params": [1]}])
def test_bad_ci_settings_name_the_problem(project_dir: Path, bad: dict) -> None:
    from mloop.errors import ConfigError

    write_project(project_dir, bad)
    with pytest.raises(ConfigError, match="ci"):
        run_ci(load_settings(project_dir))


def test_a_refused_push_still_names_the_candidate_for_the_schema_check(project_dir: Path) -> None:
    from mloop import pipeline, step
    from mloop.cicd.ci.contract_check import _pushed_name
    from mloop.cicd.ci.smoke import SmokeRun
    from mloop.components.push import push

    @step
    def make() -> int:
        return 1

    @pipeline
    def pushing() -> None:
        value = make()
        push(value, value, value, name="churn")

    smoke = SmokeRun("p", {}, pushing.compile(), None, None, 0.0, load_settings(project_dir))
    assert _pushed_name(smoke) == "churn"
    assert _pushed_name(SmokeRun("p", {}, None, None, None, 0.0, smoke.settings)) is None
