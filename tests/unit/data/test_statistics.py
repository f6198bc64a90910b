"""compute_statistics: every input kind, every column kind, batches, slices, JSON round trip."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from mloop.data import Statistics, compute_statistics
from mloop.errors import ValidationError


def _frame(n: int = 500, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 2.0, n)
    x[::10] = np.nan
    return pl.DataFrame(
        {
            "x": x,
            "k": rng.integers(-3, 4, n),
            "s": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "b": rng.random(n) < 0.25,
            "t": [
                datetime(2024, 1, 1, tzinfo=timezone.utc).replace(day=1 + i % 28) for i in range(n)
            ],
        }
    ).with_columns(pl.when(pl.int_range(n) % 7 == 0).then(None).otherwise(pl.col("s")).alias("s"))


def test_numeric_summary_matches_numpy():
    df = _frame()
    f = compute_statistics(df)["x"]
    values = df["x"].to_numpy()
    finite = values[np.isfinite(values)]
    assert f.kind == "numeric" and f.count == 500 and f.nulls == 0
    assert f.numeric.nan == 50 and f.numeric.count == 450
    assert f.numeric.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert f.numeric.std == pytest.approx(finite.std(ddof=1), rel=1e-12)
    assert (f.numeric.min, f.numeric.max) == (finite.min(), finite.max())
    assert f.numeric.quantiles["q0.5"] == pytest.approx(np.quantile(finite, 0.5), abs=0.05)
    edges, counts = f.numeric.histogram(bins=10)
    assert len(edges) == 11 and sum(counts) == pytest.approx(450, abs=1)
    k = compute_statistics(df)["k"]
    assert k.numeric.zeros == int((df["k"] == 0).sum())
    assert k.distinct is None  # numbers are described by quantiles, not distinct counts


def test_categorical_boolean_and_datetime_summaries():
    df = _frame()
    stats = compute_statistics(df)
    s = stats["s"]
    expected = df["s"].drop_nulls().value_counts()
    assert s.kind == "categorical" and s.nulls == df["s"].null_count()
    assert s.categorical.frequencies == dict(zip(expected["s"], expected["count"], strict=True))
    assert s.distinct == 3 and s.distinct_exact
    assert (s.categorical.length_min, s.categorical.length_max) == (3, 5)
    b = stats["b"]
    assert set(b.categorical.frequencies) == {"true", "false"}
    t = stats["t"]
    assert t.kind == "datetime"
    assert t.datetime.to_dict()["min"] == "2024-01-01T00:00:00+00:00"
    assert t.datetime.to_dict()["max"] == "2024-01-28T00:00:00+00:00"


def test_every_input_kind_gives_the_same_statistics(tmp_path: Path):
    df = _frame().drop("t")
    expected = compute_statistics(df).to_dict()
    df.write_parquet(tmp_path / "d.parquet")
    df.write_csv(tmp_path / "d.csv")
    pandas_stats = compute_statistics(df.to_pandas())
    assert pandas_stats["x"].nulls == 50 and pandas_stats["x"].numeric.nan == 0  # NaN is missing
    inputs = [
        df.lazy(),
        df.to_arrow(),
        tmp_path / "d.parquet",
        str(tmp_path / "d.parquet"),
        tmp_path,  # a folder of Parquet files
    ]
    for data in inputs:
        got = compute_statistics(data).to_dict()
        assert got["num_rows"] == 500
        for a, b in zip(got["features"], expected["features"], strict=True):
            assert a["count"] == b["count"] and a["nulls"] == b["nulls"], (type(data), a["name"])
            assert a["distinct"] == b["distinct"], (type(data), a["name"])
    from_csv = compute_statistics(tmp_path / "d.csv")
    assert from_csv["x"].numeric.mean == pytest.approx(compute_statistics(df)["x"].numeric.mean)
    assert (
        from_csv["s"].categorical.frequencies == compute_statistics(df)["s"].categorical.frequencies
    )


def test_batches_merge_into_the_single_pass_result(tmp_path: Path):
    df = _frame(2000)
    whole = compute_statistics(df)
    batched = compute_statistics(df, batch_rows=300)
    df.write_parquet(tmp_path / "d.parquet", row_group_size=256)
    df.drop("t").write_csv(tmp_path / "d.csv")
    streamed = compute_statistics(tmp_path / "d.parquet", batch_rows=300)  # read batch by batch
    streamed_csv = compute_statistics(tmp_path / "d.csv", batch_rows=300)
    for name in df.columns:
        a, b, c = whole[name], batched[name], streamed[name]
        assert (a.count, a.nulls, a.distinct) == (b.count, b.nulls, b.distinct)
        assert (a.count, a.nulls, a.distinct) == (c.count, c.nulls, c.distinct)
    assert streamed_csv["s"].categorical.frequencies == whole["s"].categorical.frequencies
    assert batched["x"].numeric.mean == pytest.approx(whole["x"].numeric.mean, rel=1e-12)
    assert batched["x"].numeric.m2 == pytest.approx(whole["x"].numeric.m2, rel=1e-9)
    assert batched["s"].categorical.frequencies == whole["s"].categorical.frequencies


def test_slices_hold_the_statistics_of_each_value():
    df = _frame(600)
    stats = compute_statistics(df, slice_by="b")
    assert set(stats.slices) == {"b=true", "b=false"}
    assert sum(s.num_rows for s in stats.slices.values()) == 600
    only_true = compute_statistics(df.filter(pl.col("b")))
    assert stats.slices["b=true"]["x"].numeric.mean == pytest.approx(only_true["x"].numeric.mean)
    with pytest.raises(ValidationError, match="slice_by='nope' is not a column"):
        compute_statistics(df, slice_by="nope")


def test_high_cardinality_keeps_top_values_and_estimates_distinct():
    n = 5000
    df = pl.DataFrame({"id": [f"user{i}" for i in range(n)]})
    f = compute_statistics(df, max_values=100)["id"]
    assert not f.categorical.exact and len(f.categorical.frequencies) == 100
    assert f.categorical.count == n
    assert f.distinct == pytest.approx(n, rel=0.05)
    assert not f.distinct_exact


def test_empty_and_all_null_columns():
    df = pl.DataFrame({"a": pl.Series([], dtype=pl.Float64), "s": pl.Series([], dtype=pl.String)})
    stats = compute_statistics(df)
    assert stats.num_rows == 0 and stats["a"].numeric.count == 0
    assert math.isnan(stats["a"].numeric.std)
    nulls = compute_statistics(pd.DataFrame({"a": [None, None, None]}))
    assert nulls["a"].nulls == 3 and nulls["a"].presence == 0.0


def test_json_round_trip_is_lossless():
    stats = compute_statistics(_frame(), slice_by="b")
    again = Statistics.from_json(stats.to_json())
    assert again.to_dict() == stats.to_dict()
    assert again["x"].numeric.sketch.quantiles([0.3]) == stats["x"].numeric.sketch.quantiles([0.3])


def test_bad_inputs_get_clear_errors(tmp_path: Path):
    with pytest.raises(ValidationError, match="does not exist"):
        compute_statistics(tmp_path / "missing.parquet")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(ValidationError, match="unknown suffix"):
        compute_statistics(tmp_path / "x.xlsx")
    with pytest.raises(ValidationError, match="pass a pandas or Polars DataFrame"):
        compute_statistics([1, 2, 3])
    with pytest.raises(ValidationError, match="not a Statistics document"):
        Statistics.from_json("[]")
    a = compute_statistics(pl.DataFrame({"v": [1.0, 2.0]}))
    b = compute_statistics(pl.DataFrame({"v": ["x", "y"]}))
    with pytest.raises(ValidationError, match="cast it to one type"):
        a.merge(b)


def test_other_dtypes_are_classified_and_zoned_times_are_utc():
    import datetime as dt
    import decimal

    df = pl.DataFrame(
        {
            "cat": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "dec": pl.Series(
                [decimal.Decimal("1.5"), decimal.Decimal("2.0"), None], dtype=pl.Decimal(10, 2)
            ),
            "f32": pl.Series([1.0, float("nan"), float("inf")], dtype=pl.Float32),
            "lst": [[1], [2], [3]],
            "paris": pl.Series([dt.datetime(2024, 1, 1, 12)] * 3).dt.replace_time_zone(
                "Europe/Paris"
            ),
            "nul": [None, None, None],
        }
    )
    stats = compute_statistics(df)
    kinds = {name: f.kind for name, f in stats.features.items()}
    assert kinds == {
        "cat": "categorical",
        "dec": "numeric",
        "f32": "numeric",
        "lst": "other",
        "paris": "datetime",
        "nul": "other",
    }
    assert stats["dec"].numeric.mean == pytest.approx(1.75)
    assert (stats["f32"].numeric.count, stats["f32"].numeric.nan, stats["f32"].numeric.inf) == (
        1,
        1,
        1,
    )
    assert stats["paris"].datetime.to_dict()["min"] == "2024-01-01T11:00:00+00:00"  # noon in Paris
    assert stats["paris"].datetime.timezone == "Europe/Paris"
    assert stats["nul"].nulls == 3
