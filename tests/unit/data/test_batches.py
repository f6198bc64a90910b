"""Batches sized by bytes: every input kind is cut into bounded batches that cover it once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mloop.data._frames import MAX_BATCH_ROWS, MIN_BATCH_ROWS, iter_batches, rows_for_bytes
from mloop.errors import ValidationError


def _frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    return pl.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 100, n),
            "s": rng.choice(["alpha", "beta", "a somewhat longer value"], n),
        }
    )


def test_rows_for_bytes_follows_the_bytes_per_row_within_bounds():
    df = _frame(10_000)
    per_row = df.estimated_size() / df.height
    assert rows_for_bytes(df, 1 << 20) == int((1 << 20) / per_row)
    assert rows_for_bytes(df, 1) == MIN_BATCH_ROWS
    assert rows_for_bytes(df, 1 << 40) == MAX_BATCH_ROWS
    assert rows_for_bytes(df.head(0)) == MAX_BATCH_ROWS


@pytest.mark.parametrize("kind", ["frame", "parquet", "parquet_folder", "csv", "lazy"])
def test_batches_are_bounded_and_cover_the_data_once(tmp_path: Path, kind: str):
    df = _frame(20_000)
    budget = 64 * 1024  # bytes per batch: about 2,000 of these rows
    data: object = df
    if kind == "parquet":
        df.write_parquet(tmp_path / "d.parquet", row_group_size=3_000)
        data = tmp_path / "d.parquet"
    elif kind == "parquet_folder":
        df.head(7_000).write_parquet(tmp_path / "a.parquet", row_group_size=3_000)
        df.tail(13_000).write_parquet(tmp_path / "b.parquet", row_group_size=5_000)
        data = tmp_path
    elif kind == "csv":
        df.write_csv(tmp_path / "d.csv")
        data = tmp_path / "d.csv"
    elif kind == "lazy":
        data = df.lazy()
    batches = list(iter_batches(data, batch_bytes=budget))
    assert pl.concat(batches).equals(df)
    assert len(batches) > 4
    # the first batch of a file measures the bytes per row; every later one stays near budget
    limit = 2 * max(budget, MIN_BATCH_ROWS * df.estimated_size() / df.height)
    assert all(b.estimated_size() <= limit for b in batches[1:]), [
        b.estimated_size() for b in batches
    ]


def test_batch_rows_still_fixes_the_rows(tmp_path: Path):
    df = _frame(5_000)
    df.write_parquet(tmp_path / "d.parquet")
    df.write_csv(tmp_path / "d.csv")
    for data in (df, tmp_path / "d.parquet", tmp_path / "d.csv"):
        heights = [b.height for b in iter_batches(data, 1_500)]
        assert sum(heights) == 5_000 and max(heights) <= 1_500, (data, heights)
    with pytest.raises(ValidationError, match="batch_rows must be >= 1"):
        list(iter_batches(df, 0))
    with pytest.raises(ValidationError, match="batch_bytes must be >= 1"):
        list(iter_batches(df, batch_bytes=0))


def test_empty_inputs_still_give_one_batch_with_the_schema(tmp_path: Path):
    empty = _frame(0)
    empty.write_parquet(tmp_path / "e.parquet")
    for data in (empty, empty.lazy(), tmp_path / "e.parquet"):
        batches = list(iter_batches(data))
        assert len(batches) == 1 and batches[0].height == 0
        assert batches[0].columns == ["x", "k", "s"]
