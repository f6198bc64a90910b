"""``mloop data stats|schema|validate|drift`` as a user runs them, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytestmark = [pytest.mark.integration]


def mloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 3000
    base = pl.DataFrame(
        {
            "amount": rng.normal(100, 15, n),
            "grade": rng.choice(["A", "B", "C"], n),
            "label": rng.integers(0, 2, n),
        }
    )
    base.write_parquet(tmp_path / "train.parquet")
    base.with_columns(pl.col("amount") + 30).drop("label").write_csv(tmp_path / "serving.csv")
    bad = base.with_columns(
        pl.when(pl.int_range(n) < 900).then(None).otherwise(pl.col("amount")).alias("amount")
    )
    bad.write_parquet(tmp_path / "bad.parquet")
    return tmp_path


def test_stats_prints_a_table_writes_json_and_html(files: Path):
    done = mloop("data", "stats", "train.parquet", "--html", "stats.html", cwd=files)
    assert done.returncode == 0, done.stderr
    assert "3000 rows, 3 columns" in done.stdout and "amount" in done.stdout
    assert (files / "stats.html").stat().st_size > 1_000_000
    as_json = mloop("data", "stats", "train.parquet", "--json", cwd=files)
    data = json.loads(as_json.stdout)
    assert data["num_rows"] == 3000 and [f["name"] for f in data["features"]] == [
        "amount",
        "grade",
        "label",
    ]
    (files / "train.stats.json").write_text(as_json.stdout)


def test_schema_validate_and_drift(files: Path):
    done = mloop(
        "data", "schema", "train.parquet", "-o", "schema.yaml", "--label", "label", cwd=files
    )
    assert done.returncode == 0, done.stderr
    assert "not_in_environments" in (files / "schema.yaml").read_text()
    ok = mloop(
        "data",
        "validate",
        "serving.csv",
        "--schema",
        "schema.yaml",
        "--environment",
        "SERVING",
        cwd=files,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    drifted = mloop(
        "data",
        "validate",
        "serving.csv",
        "--schema",
        "schema.yaml",
        "--environment",
        "SERVING",
        "--reference",
        "train.parquet",
        "--json",
        cwd=files,
    )
    items = json.loads(drifted.stdout)["items"]
    assert drifted.returncode == 0 and ("amount", "drift", "warning") in {
        (a["column"], a["kind"], a["severity"]) for a in items
    }
    bad = mloop("data", "validate", "bad.parquet", "--schema", "schema.yaml", cwd=files)
    assert bad.returncode == 1 and "too_many_nulls" in bad.stdout
    drift = mloop(
        "data", "drift", "train.parquet", "serving.csv", "--html", "drift.html", cwd=files
    )
    assert drift.returncode == 0 and "amount" in drift.stdout and "drifted" in drift.stdout
    assert "Plotly.newPlot" in (files / "drift.html").read_text()
    as_json = json.loads(
        mloop("data", "drift", "train.parquet", "serving.csv", "--json", cwd=files).stdout
    )
    assert as_json["drifted_features"] == ["amount"]
    fail = mloop("data", "drift", "train.parquet", "serving.csv", "--fail-on-drift", cwd=files)
    assert as_json["share_drifted"] == 0.5  # one of two judged features: 50 % is the line
    assert fail.returncode == 1 and as_json["dataset_drifted"]


def test_bad_input_is_one_red_line_and_exit_2(files: Path):
    done = mloop("data", "stats", "nope.parquet", cwd=files)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    schema = mloop("data", "validate", "train.parquet", "--schema", "missing.yaml", cwd=files)
    assert schema.returncode == 2 and "create it with 'mloop data schema'" in schema.stderr
