"""The offline store is a backend like the others (issue 14.2): DuckDB by default, chosen in
mloop.yaml with ``features: {offline_store: {type: ...}}`` from the one backend table, and the
point-in-time retrieval, materialization and push go through whichever is chosen."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from mloop import plugins
from mloop.errors import BackendNotFoundError, ConfigError, StaleFeaturesWarning
from mloop.features.offline_stores.duckdb import DuckDBOfflineStore
from mloop.features.store import FeatureStore

from .conftest import hours

LAKE = '''
from typing import ClassVar, Literal

from pydantic import BaseModel

from mloop.features.offline_stores.duckdb import DuckDBOfflineStore


class LakeConfig(BaseModel):
    type: Literal["lake"] = "lake"
    log_dir: str = "lake-log"


class LakeOfflineStore(DuckDBOfflineStore):
    """DuckDB underneath; records every call, as a third-party backend would be seen."""

    name: ClassVar[str] = "lake"
    Config: ClassVar[type] = LakeConfig
    calls: ClassVar[list] = []

    def get_historical_features(self, *args, **kwargs):
        self.calls.append("historical")
        return super().get_historical_features(*args, **kwargs)

    def pull_latest(self, *args, **kwargs):
        self.calls.append("pull_latest")
        return super().pull_latest(*args, **kwargs)
'''


def _write_project(project_dir: Path, features: str) -> None:
    (project_dir / "mloop.yaml").write_text(f"project: fs\n{features}", encoding="utf-8")


def _rows() -> pl.DataFrame:
    return pl.DataFrame({"driver_id": [2, 1], "event_timestamp": [hours(5), hours(1)]})


@pytest.fixture
def lake(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> type:
    (project_dir / "lakestore.py").write_text(LAKE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(project_dir))
    monkeypatch.delitem(sys.modules, "lakestore", raising=False)
    monkeypatch.setitem(plugins.BUILTINS, "offline_stores", plugins.builtins("offline_stores"))
    plugins.register("offline_stores", "lake", "lakestore:LakeOfflineStore")
    cls = plugins.load("offline_stores", "lake")
    cls.calls.clear()
    return cls


def test_duckdb_is_the_default_and_keeps_its_push_log(store: FeatureStore, project_dir) -> None:
    offline = store.offline_store
    assert type(offline) is DuckDBOfflineStore
    assert offline.log_dir == project_dir / ".mloop" / "features" / "push_log"


def test_the_project_file_chooses_the_offline_store(
    project_dir: Path, stats_view, lake: type
) -> None:
    _write_project(project_dir, "features:\n  offline_store:\n    type: lake\n")
    fs = FeatureStore(project_dir)
    fs.apply([stats_view])
    out = fs.get_historical_features(_rows(), ["driver_stats:rate"]).to_arrow()
    assert out.column("rate").to_pylist() == [0.5, 0.2]  # the same answers, through the choice
    with pytest.warns(StaleFeaturesWarning):  # 2024 rows are past their ttl today
        fs.materialize(hours(-1), hours(6))
    assert lake.calls == ["historical", "pull_latest"]
    assert fs.offline_store.log_dir == project_dir / "lake-log"
    fs.close()


def test_duckdb_options_come_from_the_project_file(project_dir: Path, stats_view) -> None:
    _write_project(
        project_dir, "features:\n  offline_store:\n    type: duckdb\n    log_dir: pushed\n"
    )
    fs = FeatureStore(project_dir)
    fs.apply([stats_view])
    rows = pl.DataFrame(
        {
            "driver_id": [9],
            "event_timestamp": [hours(7)],
            "created": [hours(7)],
            "rate": [0.9],
            "trips": [9],
        }
    )
    assert fs.push("driver_stats", rows) == 1
    assert list((project_dir / "pushed" / "driver_stats").glob("*.parquet"))
    fs.close()


def test_an_unknown_type_lists_the_known_ones(project_dir: Path, stats_view) -> None:
    _write_project(project_dir, "features:\n  offline_store:\n    type: spark\n")
    fs = FeatureStore(project_dir)
    fs.apply([stats_view])
    with pytest.raises(BackendNotFoundError, match=r"offline_stores.*'spark'.*\['duckdb'\]"):
        fs.get_historical_features(_rows(), ["driver_stats:rate"])


def test_bad_options_and_a_missing_type_are_config_errors(project_dir: Path) -> None:
    fs = FeatureStore(project_dir, offline_store={"type": "duckdb", "log_dri": "x"})
    with pytest.raises(ConfigError, match="offline_store settings"):
        _ = fs.offline_store
    with pytest.raises(ConfigError, match=r"needs a 'type'.*duckdb"):
        _ = FeatureStore(project_dir, offline_store={"log_dir": "x"}).offline_store


def test_an_instance_is_used_as_given(project_dir: Path, stats_view) -> None:
    mine = DuckDBOfflineStore(project_dir, project_dir / "mine")
    fs = FeatureStore(project_dir, offline_store=mine)
    assert fs.offline_store is mine
