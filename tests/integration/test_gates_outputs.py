"""The expected-outputs CD gate against a real ``mloop serve`` process: promoting a package to
prod serves the model version its run registered (from the stores of the environment holding
it) and compares the answers with prod's examples file; a wrong row refuses the promotion,
naming the row and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package
from mloop.controller.ondemand import request_run, run_now
from mloop.errors import GateRefusedError
from mloop.metadata.deployments import DeploymentState

pytestmark = pytest.mark.integration

PROJECT = """
environments:
  test: {metadata: sqlite:///.mloop/test.db, artifacts: .mloop/test}
  prod:
    metadata: sqlite:///.mloop/prod.db
    artifacts: .mloop/prod
    promotion: {from: test}
    gates: {expected_outputs: examples.csv, tolerance: 1.0e-6}
  canary:
    metadata: sqlite:///.mloop/canary.db
    artifacts: .mloop/canary
    promotion: {from: test}
    gates: {expected_outputs: input_example}
pipelines:
  fit:
    entrypoint: pipelines/fit.py:fit
"""
PIPELINE = """
from mloop import pipeline, step


@step(cache=False)
def count(n: int = 3) -> dict:
    return {"n": n}


@pipeline
def fit():
    count()
"""


def _project(folder: Path) -> Path:
    (folder / "pipelines").mkdir()
    (folder / "mloop.yaml").write_text(PROJECT.lstrip("\n"))
    (folder / "pipelines" / "fit.py").write_text(PIPELINE.lstrip("\n"))
    return folder


def _register_from_run(project: Path) -> tuple[object, pd.DataFrame]:
    """Run the deployed package in test (the launcher tags the run with its digest) and
    register a real sklearn model version from that run, as its push step would."""
    from sklearn.linear_model import LinearRegression

    from mloop.models import save_model
    from mloop.registry.registry import ModelRegistry

    test = open_environment(project, "test")
    event = run_now(
        test.store, test.settings, request_run(test.store, test.settings, "fit", reason="t")
    )
    assert event.state.value == "succeeded", event.error
    x = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 4})
    model = LinearRegression().fit(x, 1.5 * x["a"] - x["b"] + 0.25)
    package = save_model(model, project / "candidate", input_example=x.head(4))
    ModelRegistry(test.store, test.artifacts).register_model(
        "scorer", package, run_id=event.run_id, metrics={"r2": 1.0}
    )
    return model, x


def test_promotion_calls_the_served_model_and_compares_its_answers(project_dir: Path) -> None:
    project = _project(project_dir)
    build_package(open_environment(project, "test"), "fit", created_by="alice")
    promotion.deploy(project, "fit", "test", reason="merged", actor="alice")

    with pytest.raises(GateRefusedError, match="no model version registered"):
        promotion.promote(project, "fit", source="test", target="prod", reason="r")

    model, x = _register_from_run(project)
    rows = x.iloc[[3, 7, 11]].reset_index(drop=True)
    examples = rows.assign(prediction=model.predict(rows))  # type: ignore[attr-defined]
    wrong = examples.copy()
    wrong.loc[1, "prediction"] += 0.5
    wrong.to_csv(project / "examples.csv", index=False)
    with pytest.raises(GateRefusedError) as refused:
        promotion.promote(project, "fit", source="test", target="prod", reason="r")
    message = str(refused.value)
    assert "models:/scorer/1 (in test): row 1: prediction expected" in message
    assert "row 0" not in message and "row 2" not in message

    examples.to_csv(project / "examples.csv", index=False)
    done = promotion.promote(project, "fit", source="test", target="prod", reason="r")
    assert done.deployment.state is DeploymentState.ACTIVE
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "expected_outputs"]
    assert gate["status"] == "passed"
    assert gate["facts"]["models:/scorer/1"] == {"rows": 3}

    canary = promotion.promote(project, "fit", source="test", target="canary", reason="r")
    [gate] = [g for g in canary.deployment.details["gates"] if g["name"] == "expected_outputs"]
    assert gate["status"] == "passed", gate
    assert gate["facts"]["models:/scorer/1"] == {"rows": 4}  # the package's input example
