"""A small feature repository: drivers with hourly stats, and a FeatureStore over it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mloop.features import Entity, FeatureView, Field, FileSource, Float64, Int64
from mloop.features.store import FeatureStore

T0 = datetime(2024, 1, 1)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@pytest.fixture
def driver() -> Entity:
    return Entity("driver", join_keys=["driver_id"])


@pytest.fixture
def stats_path(project_dir: Path) -> Path:
    frame = pl.DataFrame(
        {
            "driver_id": [1, 1, 2, 2, 2],
            "event_timestamp": [hours(0), hours(1), hours(0), hours(5), hours(5)],
            "created": [hours(0), hours(1), hours(0), hours(5), hours(6)],
            "rate": [0.1, 0.2, 0.3, 0.4, 0.5],
            "trips": [1, 2, 3, 4, 5],
        }
    )
    path = project_dir / "data" / "stats.parquet"
    path.parent.mkdir()
    frame.write_parquet(path)
    return path


@pytest.fixture
def stats_view(driver: Entity, stats_path: Path) -> FeatureView:
    return FeatureView(
        name="driver_stats",
        entities=[driver],
        schema=[Field("rate", Float64), Field("trips", Int64)],
        source=FileSource("data/stats.parquet", created_timestamp_column="created"),
        ttl=timedelta(hours=2),
    )


@pytest.fixture
def store(project_dir: Path, stats_view: FeatureView) -> FeatureStore:
    fs = FeatureStore(project_dir)
    fs.apply([stats_view])
    yield fs
    fs.close()
