"""Drift and statistics are deterministic: the same data gives the same scores in every process,
quantile sketches merge symmetrically, and the sketch stays within its stated rank error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import mloop
from mloop.data import compute_statistics
from mloop.data.sketches import QuantileSketch


@pytest.fixture
def windows(tmp_path: Path) -> tuple[Path, Path]:
    """Two Parquet windows large enough for many compactions (200k rows), with nulls, NaN and
    a categorical column of more distinct values than statistics keep (ties at the cut)."""
    rng = np.random.default_rng(7)
    n = 200_000
    paths = []
    for name, shift in (("ref", 0.0), ("cur", 0.4)):
        x = rng.normal(shift, 1.0, n)
        x[rng.random(n) < 0.05] = np.nan
        frame = pl.DataFrame(
            {
                "x": x,
                "k": pl.Series(rng.integers(0, 1000, n)).cast(pl.Int64),
                "c": [f"v{i}" for i in rng.integers(0, 3000, n)],
                "when": pl.datetime_range(
                    pl.datetime(2024, 1, 1, time_zone="UTC"),
                    pl.datetime(2024, 1, 1, time_zone="UTC") + pl.duration(seconds=n - 1),
                    "1s",
                    eager=True,
                ),
            }
        ).with_columns(pl.when(pl.col("k") % 97 == 0).then(None).otherwise(pl.col("k")).alias("k"))
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    return paths[0], paths[1]


def test_the_same_drift_in_five_fresh_processes_is_identical(windows: tuple[Path, Path]) -> None:
    ref, cur = windows
    env = {**os.environ, "PYTHONPATH": str(Path(mloop.__file__).parents[1])}  # this mloop
    outputs = []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-m", "mloop", "data", "drift", str(ref), str(cur), "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
    scores = [{f["name"]: f["score"] for f in out["features"]} for out in outputs]
    assert all(s == scores[0] for s in scores[1:]), scores
    assert outputs[0]["features"][0]["method"] == "psi"
    assert all(out == outputs[0] for out in outputs[1:])


def test_statistics_merge_is_symmetric(windows: tuple[Path, Path]) -> None:
    ref, cur = windows
    a, b = compute_statistics(ref), compute_statistics(cur)
    assert a.merge(b).to_dict() == b.merge(a).to_dict()
    twice = compute_statistics(ref)
    assert twice.to_dict() == a.to_dict()


def test_quantile_sketch_merge_is_symmetric_and_round_trips() -> None:
    rng = np.random.default_rng(3)
    left, right = QuantileSketch(), QuantileSketch()
    left.update(rng.normal(size=50_000))
    right.update(np.concatenate([rng.exponential(size=30_000), [-0.0, 0.0, np.nan]]))
    ab, ba = left.merge(right), right.merge(left)
    assert ab.to_base64() == ba.to_base64()
    assert ab.n == 80_002
    again = QuantileSketch.from_base64(ab.to_base64())
    assert again.to_base64() == ab.to_base64()
    assert again.quantiles([0.0, 0.5, 1.0]) == ab.quantiles([0.0, 0.5, 1.0])


@pytest.mark.parametrize("batches", [1, 37, 400])
@pytest.mark.parametrize("shape", ["normal", "lognormal", "sorted", "repeated"])
def test_quantile_sketch_stays_within_its_rank_error(shape: str, batches: int) -> None:
    rng = np.random.default_rng(11)
    n = 400_000
    values = {
        "normal": rng.normal(size=n),
        "lognormal": rng.lognormal(size=n),
        "sorted": np.sort(rng.normal(size=n)),
        "repeated": rng.integers(0, 40, n).astype(float),
    }[shape]
    sketch = QuantileSketch()
    for part in np.array_split(values, batches):
        sketch.update(part)
    exact = np.sort(values)
    points = np.quantile(values, np.linspace(0.01, 0.99, 99))
    truth = np.searchsorted(exact, points, side="right") / n
    assert np.max(np.abs(sketch.cdf(points) - truth)) <= sketch.rank_error
    assert sketch.quantiles([0.0, 1.0]) == [exact[0], exact[-1]]


def test_few_values_are_kept_exactly() -> None:
    sketch = QuantileSketch()
    values = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    sketch.update(values)
    assert sketch.quantiles([0.2, 0.4, 0.6, 0.8, 1.0]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(sketch.cdf([0.5, 1.0, 4.5, 9.0])) == [0.0, 0.2, 0.8, 1.0]


def test_statistics_written_with_datasketches_kll_still_read() -> None:
    import base64

    from datasketches import kll_doubles_sketch

    old = kll_doubles_sketch(200)
    old.update(np.arange(10_000, dtype=float))
    sketch = QuantileSketch.from_base64(base64.b64encode(old.serialize()).decode())
    assert sketch.n == 10_000
    assert sketch.quantiles([0.0, 1.0]) == [0.0, 9999.0]
    assert abs(sketch.quantiles([0.5])[0] - 5000) < 0.02 * 10_000
