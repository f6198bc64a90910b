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
from mloop.cicd.gates_data import check_batch_input, training_schema
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
