"""The data gate of batch prediction: ``mloop predict`` validates the input against the
training schema of the model version (the Schema artifact of its training run) and refuses,
with the anomalies table and a non-zero exit code, a missing column, a wrong type, an
out-of-domain category and nulls where training had none, unless ``--skip-validation``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mloop import pipeline, step
from mloop.cicd.gates.data import check_batch_input, training_schema
from mloop.cli.main import app
from mloop.components.run_links import current_links, project_registry
from mloop.components.schema import infer_schema
from mloop.components.statistics import statistics
from mloop.components.train import train
from mloop.models import ModelPackage


def _loans(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    amount = rng.uniform(1.0, 10.0, n)
    return pd.DataFrame(
        {
            "amount": amount,
            "term": rng.choice(["short", "mid", "long"], n),
            "label": np.where(amount > 5.0, "bad", "good"),
        }
    )


@step
def loans() -> pd.DataFrame:
    return _loans()


@step
def register(model: ModelPackage) -> int:
    links = current_links()
    return project_registry().register_model("loans", model, run_id=links.run_id).version


@pipeline
def training() -> None:
    data = loans()
    infer_schema(statistics(data), label="label")
    register(train(data, label="label", params={"max_iter": 500}))


@pytest.fixture
def trained(project_dir: Path) -> Path:
    training.run()
    return project_dir


def _write(project: Path, name: str, frame: pd.DataFrame) -> Path:
    path = project / f"{name}.parquet"
    frame.to_parquet(path)
    return path


def _predict(project: Path, path: Path, *extra: str) -> object:
    out = project / "out.parquet"
    args = ["--project-dir", str(project), "predict", "models:/loans/1"]
    return CliRunner().invoke(app, [*args, "-i", str(path), "-o", str(out), *extra])


def test_the_training_schema_comes_from_the_training_run(trained: Path) -> None:
    registry = project_registry()
    version = registry.resolve("models:/loans/1")
    schema, source = training_schema(registry, version)
    assert schema is not None and source.startswith("the Schema artifact of training run")
    assert set(schema.features) == {"amount", "term"}  # narrowed to the model's inputs
    good = _write(trained, "good", _loans(40).drop(columns=["label"]))
    check = check_batch_input(registry, "models:/loans/1", good)
    assert check.anomalies is not None and not check.blocking
    result = _predict(trained, good)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert (trained / "out.parquet").is_file()


@pytest.mark.parametrize(
    ("broken", "kind", "column"),
    [
        (lambda f: f.drop(columns=["term"]), "missing_column", "term"),
        (lambda f: f.assign(amount=f["amount"].map(str)), "type_change", "amount"),
        (lambda f: f.assign(term="forever"), "unseen_categories", "term"),
        (
            lambda f: f.assign(amount=f["amount"].where(f.index % 2 == 0)),
            "too_many_nulls",
            "amount",
        ),
    ],
    ids=["missing column", "wrong type", "out-of-domain category", "nulls"],
)
def test_predict_refuses_input_that_breaks_the_training_schema(
    trained: Path, broken: object, kind: str, column: str
) -> None:
    frame = broken(_loans(40).drop(columns=["label"]))  # type: ignore[operator]
    path = _write(trained, "bad", frame)
    check = check_batch_input(project_registry(), "models:/loans/1", path)
    assert check.blocking
    kinds = {(a.column, a.kind) for a in check.anomalies.errors}  # type: ignore[union-attr]
    assert (column, kind) in kinds, kinds
    result = _predict(trained, path)
    assert result.exit_code != 0  # type: ignore[attr-defined]
    assert "data validation failed" in result.output  # type: ignore[attr-defined]
    assert column in result.output and "--skip-validation" in result.output  # type: ignore[attr-defined]
    assert not (trained / "out.parquet").exists()


def test_skip_validation_predicts_anyway(trained: Path) -> None:
    frame = _loans(40).drop(columns=["label"]).assign(term="forever")
    path = _write(trained, "odd", frame)
    assert _predict(trained, path).exit_code != 0  # type: ignore[attr-defined]
    result = _predict(trained, path, "--skip-validation", "--json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert '"validation": null' in result.output  # type: ignore[attr-defined]


# -- before retraining -------------------------------------------------------------------------
RETRAIN_PROJECT = """
environments:
  test:
    metadata: sqlite:///.mloop/test.db
    artifacts: .mloop/test
    gates: {require_data_validation: true}
pipelines:
  retrain:
    entrypoint: pipelines/retrain.py:retrain
    params: {path: data/loans.parquet}
"""
RETRAIN = """
import pandas as pd

from mloop import pipeline, step
from mloop.components.statistics import statistics
from mloop.components.train import train
from mloop.components.validate import validate


@step(cache=False)
def loans(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


@pipeline
def retrain(path: str = "data/loans.parquet"):
    data = loans(path)
    {body}
"""
GUARDED = """check = validate(statistics(data), schema="schema.yaml")
    train(data, label="label", params={"max_iter": 500}, after=[check])"""
UNGUARDED = """train(data, label="label", params={"max_iter": 500})"""


def _retrain_project(folder: Path, body: str) -> Path:
    from mloop.data import compute_statistics
    from mloop.data import infer_schema as infer

    (folder / "pipelines").mkdir(exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "mloop.yaml").write_text(RETRAIN_PROJECT.lstrip("\n"))
    (folder / "pipelines" / "retrain.py").write_text(RETRAIN.replace("{body}", body).lstrip("\n"))
    _loans().to_parquet(folder / "data" / "loans.parquet")
    infer(compute_statistics(_loans()), label="label").to_yaml(folder / "schema.yaml")
    return folder


def test_an_environment_can_require_validation_before_retraining(project_dir: Path) -> None:
    from mloop.cicd import promotion
    from mloop.cicd.environments import open_environment
    from mloop.cicd.packages import build_package
    from mloop.errors import GateRefusedError

    project = _retrain_project(project_dir, UNGUARDED)
    build_package(open_environment(project, "test"), "retrain", created_by="alice")
    with pytest.raises(GateRefusedError, match=r"steps \['train'\] run without a validate step"):
        promotion.deploy(project, "retrain", "test", reason="r", actor="alice")

    (project / "pipelines" / "retrain.py").write_text(
        RETRAIN.replace("{body}", GUARDED).lstrip("\n")
    )
    build_package(open_environment(project, "test"), "retrain", created_by="alice")
    done = promotion.deploy(project, "retrain", "test", reason="r", actor="alice")
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "data_validation"]
    assert gate["status"] == "passed" and gate["facts"]["model_steps"] == ["train"]


def test_a_triggered_retrain_on_anomalous_data_fails_before_training(project_dir: Path) -> None:
    from mloop.cicd import promotion
    from mloop.cicd.environments import open_environment
    from mloop.cicd.packages import build_package
    from mloop.controller.ondemand import request_run, run_now

    project = _retrain_project(project_dir, GUARDED)
    test = open_environment(project, "test")
    build_package(test, "retrain", created_by="alice")
    promotion.deploy(project, "retrain", "test", reason="r", actor="alice")
    _loans().assign(term="forever").to_parquet(project / "data" / "loans.parquet")
    event = run_now(
        test.store,
        test.settings,
        request_run(test.store, test.settings, "retrain", reason="new data"),
    )
    assert event.state.value == "failed"
    assert "data validation failed" in (event.error or "") and "term" in (event.error or "")
    assert event.run_id is not None
    steps = {e.step_name: e.state.value for e in test.store.list_executions(event.run_id)}
    assert "train" not in steps or steps["train"] != "succeeded"
