"""Statistics by partitions: equal to Statistics.merge of the parts, and to the whole within
the sketches' error (exactly for counts, nulls, min, max, frequencies)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mloop.data import compute_statistics
from mloop.data.partitioned import (
    compute_partitioned_statistics,
    merge_partitions,
    parquet_partitions,
)
from mloop.errors import ValidationError


def _frame(seed: int, rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10 * seed, 3, rows)
    x[rng.random(rows) < 0.05] = np.nan
    x[: min(2, rows)] = [np.inf, -np.inf][:rows]
    start = datetime(2026, 3, 29, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # tz-aware
    return pl.DataFrame(
        {
            "x": x,
            "n": pl.Series(rng.integers(-5, 5, rows)).cast(pl.Int64),
            "city": rng.choice(["paris", "", "zürich", "são paulo"], rows),
            "when": [start + timedelta(minutes=int(m)) for m in rng.integers(0, 10_000, rows)],
        }
    ).with_columns(
        n=pl.when(pl.col("n") == 0).then(None).otherwise(pl.col("n")),
        city=pl.when(pl.col("n").is_null()).then(None).otherwise(pl.col("city")),
    )


@pytest.fixture
def partitioned(tmp_path: Path) -> tuple[Path, list[pl.DataFrame]]:
    frames = [_frame(seed, rows) for seed, rows in [(1, 4000), (2, 1), (3, 2500), (4, 3000)]]
    # an all-null partition of one column, and hive-style folders
    frames[1] = frames[1].with_columns(x=pl.lit(None, dtype=pl.Float64))
    for i, frame in enumerate(frames):
        folder = tmp_path / "log" / f"day={i:02d}"
        folder.mkdir(parents=True)
        frame.write_parquet(folder / f"part-{i}.parquet")
    (tmp_path / "log" / "_SUCCESS").write_text("")
    return tmp_path / "log", frames


def test_equals_the_merge_of_the_parts_exactly(partitioned):
    folder, _ = partitioned
    paths = parquet_partitions(folder)
    assert [Path(p).parent.name for p in paths] == ["day=00", "day=01", "day=02", "day=03"]
    parts = [compute_statistics(p) for p in paths]
    got = compute_partitioned_statistics(folder)
    assert got.to_dict() == merge_partitions(parts).to_dict()
    # a mapper that runs elsewhere and returns in order gives the same
    shuffled = compute_partitioned_statistics(
        folder, mapper=lambda fn, ps: [fn(p) for p in reversed(ps)][::-1]
    )
    assert shuffled.to_dict() == got.to_dict()


def test_equals_the_whole_within_sketch_error(partitioned):
    folder, frames = partitioned
    whole = compute_statistics(pl.concat(frames))
    got = compute_partitioned_statistics(folder)
    assert got.num_rows == whole.num_rows == sum(f.height for f in frames)
    for name in ("x", "n", "city", "when"):
        a, b = got[name], whole[name]
        assert (a.kind, a.count, a.nulls) == (b.kind, b.count, b.nulls), name
    x, wx = got["x"].numeric, whole["x"].numeric
    assert (x.count, x.nan, x.inf, x.min, x.max) == (wx.count, wx.nan, wx.inf, wx.min, wx.max)
    assert math.isclose(x.mean, wx.mean, rel_tol=1e-12)
    assert math.isclose(x.std, wx.std, rel_tol=1e-9)
    values = np.sort(pl.concat(frames)["x"].drop_nulls().drop_nans().to_numpy())
    values = values[np.isfinite(values)]
    for q, v in x.quantiles.items():
        rank = np.searchsorted(values, v) / len(values)
        assert abs(rank - float(q[1:])) < 0.02, (q, v, rank)  # KLL rank error ~1.3 %
    city, wcity = got["city"].categorical, whole["city"].categorical
    assert city.frequencies == wcity.frequencies and got["city"].distinct == 4
    assert got["when"].datetime.to_dict() == whole["when"].datetime.to_dict()
    assert got["n"].numeric.min == -5 and got["n"].numeric.max == 4


def test_bad_sources_say_what_to_give(tmp_path: Path):
    with pytest.raises(ValidationError, match="does not exist"):
        parquet_partitions(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="no Parquet files"):
        parquet_partitions(tmp_path / "empty")
    with pytest.raises(ValidationError, match="no partitions"):
        merge_partitions([])
