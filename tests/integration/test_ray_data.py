"""Distributed data work on the test Ray cluster: statistics by partitions (one task each) and
batch prediction on Ray Data (``mloop predict --runner ray``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

from mloop.data import compute_statistics
from mloop.data.partitioned import compute_partitioned_statistics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _partitions(folder: Path, sizes: list[int]) -> pl.DataFrame:
    frames = []
    for i, rows in enumerate(sizes):
        rng = np.random.default_rng(i)
        x = rng.lognormal(0, 1, rows)
        x[rng.random(rows) < 0.1] = np.nan
        when = datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)
        frame = pl.DataFrame(
            {
                "x": x,
                "k": rng.choice(["a", "b", "ü", ""], rows),
                "t": [when + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, rows)],
            }
        ).with_columns(k=pl.when(pl.col("x").is_nan()).then(None).otherwise(pl.col("k")))
        (folder / f"p={i}").mkdir(parents=True)
        frame.write_parquet(folder / f"p={i}" / "data.parquet")
        frames.append(frame)
    return pl.concat(frames)


def test_statistics_by_partition_on_ray(ray_cluster, tmp_path: Path):
    from mloop.components.statistics_ray import compute_statistics_on_ray

    whole = _partitions(tmp_path / "log", [3000, 10, 2000, 2500, 1])
    got = compute_statistics_on_ray(tmp_path / "log", slice_by="k")
    assert got.to_dict() == compute_partitioned_statistics(tmp_path / "log", "k").to_dict()
    one = compute_statistics(whole, "k")
    assert got.num_rows == one.num_rows == 7511
    assert got["x"].nulls == one["x"].nulls and got["k"].nulls == one["k"].nulls
    assert got["k"].categorical.frequencies == one["k"].categorical.frequencies
    assert got["x"].numeric.nan == one["x"].numeric.nan
    assert got["x"].numeric.max == one["x"].numeric.max
    assert sorted(got.slices) == sorted(one.slices)
    assert got.slices["k=ü"].num_rows == one.slices["k=ü"].num_rows


def _package(folder: Path) -> tuple[Path, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import mloop.models

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 600).astype("int64"),
            "income": rng.normal(50.0, 10.0, 600),
            "city": rng.choice(["paris", "lyon", "zürich"], 600).astype(object),
        }
    )
    labels = (frame["income"] > 50.0).astype(int).to_numpy()
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, labels)
    mloop.models.save_model(model, folder, input_example=frame.head(8))
    return folder, frame


def test_mloop_predict_runner_ray_matches_the_local_runner(ray_cluster, project_dir: Path):
    from mloop.cli.main import app

    package, frame = _package(project_dir / "pkg")
    (project_dir / "in").mkdir()
    for i, start in enumerate((0, 250, 410)):
        part = frame.iloc[start : (250, 410, 600)[i]]
        part.to_parquet(project_dir / "in" / f"part-{i}.parquet", index=False)
    local = CliRunner().invoke(
        app, ["predict", str(package), "-i", "in", "-o", "local.parquet", "--proba"]
    )
    assert local.exit_code == 0, local.output
    res = CliRunner().invoke(
        app,
        [
            *("predict", str(package), "-i", "in", "-o", "out", "--proba"),
            *("--chunk-size", "100", "--runner", "ray", "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert '"rows": 600' in res.output
    on_ray = pd.read_parquet(project_dir / "out")
    expected = pd.read_parquet(project_dir / "local.parquet")
    pd.testing.assert_frame_equal(on_ray.reset_index(drop=True), expected)  # order kept too


def test_predict_on_ray_refuses_bad_input_and_leaves_no_output(ray_cluster, project_dir: Path):
    from mloop.errors import InputSchemaError, ValidationError
    from mloop.serving.batch.ray import predict_on_ray

    package, frame = _package(project_dir / "pkg")
    frame.drop(columns=["city"]).to_parquet(project_dir / "bad.parquet")
    with pytest.raises(InputSchemaError, match="city"):
        predict_on_ray(str(package), project_dir / "bad.parquet", project_dir / "out")
    assert not (project_dir / "out").exists()
    assert not list(project_dir.glob(".out.*"))
    nulls = frame.astype({"income": "float64"})
    nulls.loc[5, "income"] = None  # a null the signature does not allow: found in a task
    nulls.to_parquet(project_dir / "nulls.parquet")
    with pytest.raises(ValidationError, match="income"):
        predict_on_ray(str(package), project_dir / "nulls.parquet", project_dir / "out")
    assert not (project_dir / "out").exists()
    assert not list(project_dir.glob(".out.*"))
