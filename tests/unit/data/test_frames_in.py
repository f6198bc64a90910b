"""infer_schema, validate and detect_drift take frames and paths as compute_statistics does
(issue 16.3): the same answers as from statistics computed first, and a clear error for what
is neither."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mloop.data import compute_statistics, detect_drift, infer_schema, validate
from mloop.errors import ValidationError


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 2000),
            "income": rng.normal(50, 10, 2000),
            "city": rng.choice(["a", "b", "c"], 2000),
        }
    )
    ref.loc[::50, "income"] = np.nan
    cur = ref.copy()
    cur["income"] = cur["income"] + 25
    cur.loc[:100, "city"] = "z"
    return ref, cur


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "parquet", "csv"])
def test_frames_and_paths_give_the_same_answers(frames, tmp_path, kind) -> None:
    ref, cur = frames

    def as_input(frame: pd.DataFrame, name: str):
        if kind == "pandas":
            return frame
        if kind == "polars":
            return pl.from_pandas(frame)
        if kind == "arrow":
            return pa.Table.from_pandas(frame, preserve_index=False)
        path = tmp_path / f"{name}.{kind}"
        if kind == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return str(path)

    ref_in, cur_in = as_input(ref, "ref"), as_input(cur, "cur")
    ref_stats = compute_statistics(ref_in)
    cur_stats = compute_statistics(cur_in)
    schema = infer_schema(ref_in)
    assert schema.to_dict() == infer_schema(ref_stats).to_dict()
    from_frames = validate(cur_in, schema, reference=ref_in)
    from_stats = validate(cur_stats, schema, reference=ref_stats)
    assert from_frames.to_dict() == from_stats.to_dict()
    assert {a.column for a in from_frames.items} >= {"city"}
    drift = detect_drift(ref_in, cur_in)
    assert drift.to_dict() == detect_drift(ref_stats, cur_stats).to_dict()
    assert "income" in drift.drifted_features


def test_validate_reads_a_schema_file(frames, tmp_path) -> None:
    ref, cur = frames
    path = tmp_path / "schema.yaml"
    infer_schema(ref).to_yaml(path)
    assert validate(cur, path).to_dict() == validate(cur, str(path)).to_dict()


@pytest.mark.parametrize("bad", [None, 3, {"a": 1}, [1, 2]])
def test_neither_statistics_nor_data_is_a_clear_error(bad) -> None:
    with pytest.raises(ValidationError, match="must be Statistics, a DataFrame"):
        infer_schema(bad)
    with pytest.raises(ValidationError, match="detect_drift: reference_stats must be"):
        detect_drift(bad, bad)
