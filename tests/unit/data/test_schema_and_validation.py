"""infer_schema and validate: YAML round trip, environments, and each anomaly kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mloop.data import Anomalies, Schema, compute_statistics, infer_schema, validate
from mloop.errors import ValidationError


def _train(n: int = 1000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 0.5, n),
            "grade": rng.choice(["A", "B", "C", "D"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def test_inferred_schema_round_trips_through_yaml_and_accepts_its_data(tmp_path: Path):
    stats = compute_statistics(_train())
    schema = infer_schema(stats, label="label")
    assert schema["grade"].vocabulary == ["A", "B", "C", "D"]
    assert schema["age"].domain[0] >= 0  # a non-negative column stays non-negative
    assert schema["label"].not_in_environments == ["SERVING"]
    path = tmp_path / "schema.yaml"
    schema.to_yaml(path)
    again = Schema.from_yaml(path)
    assert again.to_dict() == schema.to_dict()
    assert len(validate(stats, again, "TRAINING")) == 0
    fresh = compute_statistics(_train(seed=1))
    assert validate(fresh, again, "TRAINING").items == []


def test_serving_environment_does_not_expect_the_label():
    schema = infer_schema(compute_statistics(_train()), label="label")
    serving = compute_statistics(_train().drop("label"))
    assert validate(serving, schema, "SERVING").items == []
    missing = validate(serving, schema, "TRAINING")
    assert [(a.column, a.kind, a.severity) for a in missing] == [
        ("label", "missing_column", "error")
    ]
    leaked = validate(compute_statistics(_train()), schema, "SERVING")
    assert [(a.column, a.kind) for a in leaked] == [("label", "unexpected_column")]
    with pytest.raises(ValidationError, match="environment 'STAGING' is not in the schema"):
        validate(serving, schema, "STAGING")


def test_each_anomaly_kind_is_found_with_an_actionable_reason():
    schema = infer_schema(compute_statistics(_train()))
    bad = _train(seed=2).with_columns(
        pl.when(pl.int_range(1000) < 300).then(None).otherwise(pl.col("income")).alias("income"),
        pl.when(pl.int_range(1000) < 100)
        .then(pl.lit("Z"))
        .otherwise(pl.col("grade"))
        .alias("grade"),
        (pl.col("age") * 10).alias("age"),
        pl.col("label").cast(pl.String).alias("label"),
        pl.lit(1.0).alias("extra"),
    )
    anomalies = validate(compute_statistics(bad), schema)
    found = {(a.column, a.kind, a.severity) for a in anomalies}
    assert found == {
        ("income", "too_many_nulls", "error"),
        ("grade", "unseen_categories", "error"),
        ("age", "out_of_domain", "error"),
        ("label", "type_change", "error"),
        ("extra", "unexpected_column", "warning"),
    }
    reasons = {a.kind: a.reason for a in anomalies}
    assert (
        "70.00% of rows" in reasons["too_many_nulls"]
        and "lower min_presence" in reasons["too_many_nulls"]
    )
    assert (
        "'Z'" in reasons["unseen_categories"] and "10.00% of rows" in reasons["unseen_categories"]
    )
    assert anomalies.blocking and len(anomalies.errors) == 4


def test_small_unseen_share_is_a_warning_and_empty_data_an_error():
    schema = infer_schema(compute_statistics(_train()))
    few = _train(seed=3).with_columns(
        pl.when(pl.int_range(1000) < 5).then(pl.lit("E")).otherwise(pl.col("grade")).alias("grade")
    )
    anomalies = validate(compute_statistics(few), schema)
    assert [(a.kind, a.severity) for a in anomalies] == [("unseen_categories", "warning")]
    assert not anomalies.blocking
    empty = validate(compute_statistics(_train().head(0)), schema)
    assert [(a.kind, a.severity) for a in empty] == [("empty_data", "error")]


def test_reference_adds_drift_anomalies_blocking_only_when_the_schema_says_so():
    train = compute_statistics(_train())
    shifted = compute_statistics(_train(seed=4).with_columns(pl.col("income") * 1.8))
    schema = infer_schema(train)
    schema["income"].domain = None
    drift = [a for a in validate(shifted, schema, reference=train) if a.kind == "drift"]
    assert [(a.column, a.severity) for a in drift] == [("income", "warning")]
    assert "psi" in drift[0].reason
    schema["income"].drift.blocking = True
    assert validate(shifted, schema, reference=train).blocking


def test_anomalies_and_schema_serialize(tmp_path: Path):
    schema = infer_schema(compute_statistics(_train()))
    anomalies = validate(compute_statistics(_train().drop("grade")), schema)
    assert Anomalies.from_json(anomalies.to_json()).to_dict() == anomalies.to_dict()
    assert Schema.from_json(schema.to_json()).to_dict() == schema.to_dict()


def test_schema_files_with_mistakes_get_clear_errors(tmp_path: Path):
    with pytest.raises(ValidationError, match="unknown keys \\['vocab'\\]"):
        Schema.from_yaml("features:\n  a: {kind: categorical, vocab: [x]}\n")
    with pytest.raises(ValidationError, match="drift method 'magic' unknown"):
        Schema.from_yaml("features:\n  a: {kind: numeric, drift: {method: magic}}\n")
    with pytest.raises(ValidationError, match=r"domain min 5\.0 is above max 1\.0"):
        Schema.from_yaml("features:\n  a: {kind: numeric, domain: {min: 5, max: 1}}\n")
    with pytest.raises(ValidationError, match="does not exist"):
        Schema.from_yaml(tmp_path / "none.yaml")
