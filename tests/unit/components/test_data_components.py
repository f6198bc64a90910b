"""The data-validation steps in a pipeline: artifacts typed Statistics/Schema/Anomalies, a run
that goes on with warnings, and a FAILED run with the anomalies recorded on blocking ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mloop import pipeline, step
from mloop.artifacts import connect as connect_artifacts
from mloop.components import infer_schema, statistics, validate
from mloop.components.data_artifacts import MATERIALIZERS
from mloop.config import load_settings
from mloop.data import Anomalies, Schema, Statistics
from mloop.data import compute_statistics as compute
from mloop.data import infer_schema as infer
from mloop.errors import DataValidationError, StepExecutionError
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import ExecutionState, RunState
from mloop.pipelines.materializers import load_value, materializer_by_name


def _frame(n: int = 300, nulls: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    amount = rng.normal(100, 10, n)
    df = pl.DataFrame({"amount": amount, "grade": rng.choice(["A", "B", "C"], n)})
    if nulls:
        df = df.with_columns(
            pl.when(pl.int_range(n) % 2 == 0).then(None).otherwise(pl.col("amount")).alias("amount")
        )
    return df


@step
def load(nulls: bool = False) -> pl.DataFrame:
    return _frame(nulls=nulls)


@pipeline
def profile():
    stats = statistics(load())
    infer_schema(stats, label=None)


@pipeline
def gate(schema_path: str = "schema.yaml", nulls: bool = False):
    data = load(nulls=nulls)
    check = validate(statistics(data), schema=schema_path)
    after_gate(data, after=[check])


@step
def after_gate(data: pl.DataFrame) -> int:
    return data.height


def test_statistics_and_schema_steps_record_typed_artifacts(project_dir: Path):
    handle = profile.run()
    assert handle.state is RunState.SUCCEEDED
    stats_artifact = handle.artifacts("statistics")["output"]
    schema_artifact = handle.artifacts("infer_schema")["output"]
    assert stats_artifact.type == "Statistics"
    assert schema_artifact.type == "Schema"
    assert stats_artifact.properties["rows"] == 300
    stats = handle.outputs["statistics"]
    assert isinstance(stats, Statistics)
    assert stats["amount"].numeric.count == 300
    schema = handle.outputs["infer_schema"]
    assert isinstance(schema, Schema)
    assert schema["grade"].vocabulary == ["A", "B", "C"]


def test_validate_passes_clean_data_and_the_next_step_runs(project_dir: Path):
    infer(compute(_frame())).to_yaml(project_dir / "schema.yaml")
    handle = gate.run()
    assert handle.state is RunState.SUCCEEDED
    assert handle.artifacts("validate")["output"].type == "Anomalies"
    anomalies = handle.outputs["validate"]
    assert isinstance(anomalies, Anomalies) and not anomalies.blocking
    assert handle.outputs["after_gate"] == 300


def test_blocking_anomalies_fail_the_run_with_the_anomalies_recorded(project_dir: Path):
    infer(compute(_frame())).to_yaml(project_dir / "schema.yaml")
    with pytest.raises(StepExecutionError, match="too_many_nulls") as info:
        gate.run(nulls=True)
    cause = info.value.__cause__
    assert isinstance(cause, DataValidationError)
    assert [a.column for a in cause.anomalies.errors] == ["amount"]
    md = connect_metadata(load_settings().metadata_url)
    run = md.get_run(info.value.run_id)
    assert run.state is RunState.FAILED
    by_step = {e.step_name: e for e in md.list_executions(run.id)}
    assert by_step["validate"].state is ExecutionState.FAILED
    assert by_step["after_gate"].state is ExecutionState.SKIPPED
    artifact = md.get_artifact(run.tags["mloop.artifact.validate/anomalies"])
    assert artifact.id == cause.artifact_id
    files = connect_artifacts(load_settings().artifact_root)
    with files.open_local(artifact.uri, digest=artifact.digest) as folder:
        recorded = Anomalies.from_json((Path(folder) / "anomalies.json").read_text())
    assert recorded.blocking and recorded.errors[0].kind == "too_many_nulls"
    assert artifact.type == "Anomalies"  # typed, and loadable as a value by its materializer
    loaded = load_value(files, artifact.uri, artifact.materializer, digest=artifact.digest)
    assert loaded.to_dict() == recorded.to_dict()


def test_warnings_do_not_stop_the_run(project_dir: Path):
    schema = infer(compute(_frame()))
    schema.features["grade"].vocabulary = ["A", "B"]  # C: unseen, tolerated up to 50 %
    schema.features["grade"].max_unseen_fraction = 0.5
    schema.to_yaml(project_dir / "schema.yaml")
    handle = gate.run()
    assert handle.state is RunState.SUCCEEDED
    anomalies = handle.outputs["validate"]
    assert [(a.column, a.kind, a.severity) for a in anomalies] == [
        ("grade", "unseen_categories", "warning")
    ]


def test_materializers_load_by_recorded_name_and_round_trip(tmp_path: Path):
    stats = compute(_frame())
    for cls in MATERIALIZERS:
        assert materializer_by_name(cls.name).artifact_type == cls.artifact_type
    files = connect_artifacts(str(tmp_path / "store"))
    from mloop.pipelines.materializers import store_value

    stored = store_value(stats, files, "x/stats")
    loaded = load_value(files, stored.uri, stored.materializer, digest=stored.digest)
    assert loaded.to_dict() == stats.to_dict()
