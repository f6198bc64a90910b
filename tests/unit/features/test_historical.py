"""Point-in-time training sets: ttl, created-time ties, misses, input order, many views."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mloop.errors import FeatureNotFoundError, MissingJoinKeyError, TimestampTypeError
from mloop.features import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Float64,
    Int64,
    RequestSource,
    SqlSource,
    String,
    on_demand_feature_view,
)

from .conftest import hours


def entity_rows(ids, times) -> pl.DataFrame:
    return pl.DataFrame({"driver_id": ids, "event_timestamp": times})


def test_latest_row_within_ttl_else_null_in_input_order(store) -> None:
    rows = entity_rows(
        [2, 1, 1, 3, 2, 2], [hours(3), hours(0.5), hours(4), hours(0), hours(6), hours(-1)]
    )
    out = store.get_historical_features(rows, ["driver_stats:rate", "driver_stats:trips"])
    table = out.to_arrow()
    assert table.column_names == ["driver_id", "event_timestamp", "rate", "trips"]
    assert table.column("driver_id").to_pylist() == [2, 1, 1, 3, 2, 2]
    # 2@3h: last row 0h is 3h old > ttl 2h; 1@4h: 1h row is 3h old; 3 unknown; 2@-1h: before all
    assert table.column("rate").to_pylist() == [None, 0.1, None, None, 0.5, None]
    assert table.column("trips").to_pylist() == [None, 1, None, None, 5, None]


def test_event_time_tie_is_broken_by_latest_created(store) -> None:
    out = store.get_historical_features(entity_rows([2], [hours(5)]), ["driver_stats:rate"])
    assert out.to_arrow().column("rate").to_pylist() == [0.5]  # created 6h beats created 5h


def test_exactly_at_event_time_counts_and_ttl_edge_is_inclusive(store) -> None:
    out = store.get_historical_features(
        entity_rows([1, 1], [hours(1), hours(3)]), ["driver_stats:rate"]
    ).to_arrow()
    assert out.column("rate").to_pylist() == [0.2, 0.2]


def test_all_rows_outside_ttl_still_come_back(store) -> None:
    rows = entity_rows([1] * 5, [hours(10 + i) for i in range(5)])
    out = store.get_historical_features(rows, ["driver_stats:rate"]).to_arrow()
    assert out.num_rows == 5 and out.column("rate").null_count == 5


def test_output_formats(store) -> None:
    rows = entity_rows([1], [hours(1)]).to_pandas()
    job = store.get_historical_features(rows, ["driver_stats:rate"])
    assert isinstance(job.to_pandas(), pd.DataFrame)
    assert isinstance(job.to_df(), pd.DataFrame)
    assert isinstance(job.to_polars(), pl.DataFrame)
    assert job.to_polars()["rate"].to_list() == [0.2]
    assert len(job) == 1


def test_timezone_aware_entity_rows_compare_in_utc(store) -> None:
    tz = timezone(timedelta(hours=2))
    aware = [datetime(2024, 1, 1, 3, 0, tzinfo=tz)]  # = 01:00 UTC
    rows = pa.table(
        {"driver_id": [1], "event_timestamp": pa.array(aware, pa.timestamp("us", "UTC"))}
    )
    out = store.get_historical_features(rows, ["driver_stats:rate"]).to_arrow()
    assert out.column("rate").to_pylist() == [0.2]


def test_several_views_and_entities_with_full_names(project_dir: Path, store, stats_view) -> None:
    city = Entity("city", value_type=String)
    pl.DataFrame({"city": ["a", "b"], "ts": [hours(0), hours(0)], "rate": [10.0, 20.0]}).write_csv(
        project_dir / "data" / "city.csv"
    )
    city_view = FeatureView(
        "city_stats",
        [city],
        [Field("rate", Float64)],
        FileSource("data/city.csv", timestamp_field="ts"),
    )
    store.apply([city_view])
    rows = pl.DataFrame(
        {"driver_id": [1, 2], "city": ["b", "zz"], "event_timestamp": [hours(1), hours(5)]}
    )
    refs = ["driver_stats:rate", "city_stats:rate"]
    with pytest.raises(Exception, match="full_feature_names"):
        store.get_historical_features(rows, refs)
    out = store.get_historical_features(rows, refs, full_feature_names=True).to_arrow()
    assert out.column("driver_stats__rate").to_pylist() == [0.2, 0.5]
    assert out.column("city_stats__rate").to_pylist() == [20.0, None]


def test_folder_and_sql_sources(project_dir: Path, driver) -> None:
    from mloop.features.store import FeatureStore

    folder = project_dir / "parts"
    (folder / "day=1").mkdir(parents=True)
    pl.DataFrame({"driver_id": [1], "event_timestamp": [hours(0)], "x": [1.0]}).write_parquet(
        folder / "day=1" / "a.parquet"
    )
    pl.DataFrame({"driver_id": [1], "event_timestamp": [hours(2)], "x": [2.0]}).write_parquet(
        folder / "b.parquet"
    )
    db = project_dir / "src.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (driver_id INTEGER, event_timestamp DATETIME, y REAL)")
        conn.execute("INSERT INTO t VALUES (1, '2024-01-01 00:30:00', 7.0)")
    views = [
        FeatureView("parts", [driver], [Field("x", Float64)], FileSource("parts")),
        FeatureView(
            "sql",
            [driver],
            [Field("y", Float64)],
            SqlSource(
                f"sqlite:///{db}",
                query="SELECT driver_id, event_timestamp, y FROM t",
            ),
        ),
    ]
    views.append(
        FeatureView(
            "table", [driver], [Field("y", Float64)], SqlSource(f"sqlite:///{db}", table="t")
        )
    )
    fs = FeatureStore(project_dir)
    fs.apply(views)
    rows = entity_rows([1, 1], [hours(1), hours(3)])
    out = fs.get_historical_features(rows, ["table:y"]).to_arrow()
    assert out.column("y").to_pylist() == [7.0, 7.0]
    with pytest.raises(TimestampTypeError, match="event_timestamp"):  # sqlite hands back text
        fs.get_historical_features(rows, ["sql:y"])
    out = fs.get_historical_features(rows, ["parts:x"]).to_arrow()
    assert out.column("x").to_pylist() == [1.0, 2.0]


def test_bad_input_gets_clear_errors(store) -> None:
    rows = entity_rows([1], [hours(1)])
    with pytest.raises(FeatureNotFoundError, match="driver_stats:nope"):
        store.get_historical_features(rows, ["driver_stats:nope"])
    with pytest.raises(FeatureNotFoundError, match="ghost:rate"):
        store.get_historical_features(rows, ["ghost:rate"])
    with pytest.raises(MissingJoinKeyError, match="driver_id"):
        store.get_historical_features(rows.drop("driver_id"), ["driver_stats:rate"])
    with pytest.raises(MissingJoinKeyError, match="event_timestamp"):
        store.get_historical_features(rows.drop("event_timestamp"), ["driver_stats:rate"])
    text_times = pl.DataFrame({"driver_id": [1], "event_timestamp": ["2024-01-01"]})
    with pytest.raises(TimestampTypeError, match="VARCHAR"):
        store.get_historical_features(text_times, ["driver_stats:rate"])
    with pytest.raises(Exception, match="DataFrame"):
        store.get_historical_features(42, ["driver_stats:rate"])


def test_on_demand_features_and_services_offline(store, stats_view) -> None:
    @on_demand_feature_view(
        sources=[stats_view[["rate"]], RequestSource("req", [Field("bonus", Float64)])],
        schema=[Field("score", Float64)],
    )
    def score(frame):
        return frame.with_columns(score=frame["rate"] * 10 + frame["bonus"])

    service = FeatureService("svc", [stats_view[["trips"]], score])
    store.apply([score, service])
    rows = entity_rows([1, 2], [hours(1), hours(3)]).with_columns(bonus=pl.Series([1.0, 2.0]))
    out = store.get_historical_features(rows, "svc").to_arrow()
    assert out.column_names == ["driver_id", "event_timestamp", "bonus", "trips", "score"]
    assert out.column("score").to_pylist() == [3.0, None]
    with pytest.raises(MissingJoinKeyError, match="bonus"):
        store.get_historical_features(rows.drop("bonus"), service)


def test_pushed_rows_reach_training_sets(store) -> None:
    store.push(
        "driver_stats", [{"driver_id": 7, "event_timestamp": hours(2), "rate": 0.7, "trips": 70}]
    )
    out = store.get_historical_features(
        entity_rows([7, 7], [hours(1), hours(2.5)]), ["driver_stats:rate"]
    )
    assert out.to_arrow().column("rate").to_pylist() == [None, 0.7]
    assert list((Path(".mloop") / "features" / "push_log" / "driver_stats").glob("*.parquet"))


def test_missing_source_file_is_a_clear_error(project_dir: Path, driver) -> None:
    from mloop.errors import StoreError
    from mloop.features.store import FeatureStore

    fs = FeatureStore(project_dir)
    fs.apply([FeatureView("gone", [driver], [Field("z", Int64)], FileSource("nope.parquet"))])
    with pytest.raises(StoreError, match="does not exist"):
        fs.get_historical_features(entity_rows([1], [hours(0)]), ["gone:z"])
