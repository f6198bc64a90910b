"""Materialization, watermarks, push and online reads on the embedded SQLite online store."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from mloop.errors import (
    FeatureNotFoundError,
    MissingJoinKeyError,
    MloopWarning,
    OnlineStoreUnavailableError,
    StaleFeaturesWarning,
    TimestampTypeError,
    ValidationError,
)
from mloop.features import Field, Float64, RequestSource, on_demand_feature_view
from mloop.features.online import FieldStatus
from mloop.features.store import FeatureStore

from .conftest import T0, hours

REFS = ["driver_stats:rate", "driver_stats:trips"]


def test_materialize_writes_latest_row_per_entity(store) -> None:
    with pytest.warns(StaleFeaturesWarning, match="2 of 2 rows") as caught:
        (result,) = store.materialize(hours(0), hours(10))
    assert (result.view, result.rows, result.outside_ttl) == ("driver_stats", 2, 2)
    assert caught[0].message.view == "driver_stats"
    assert issubclass(caught[0].category, MloopWarning)
    online = store.get_online_features(REFS, [{"driver_id": 2}, {"driver_id": 1}, {"driver_id": 9}])
    values = online.to_dict()
    assert values == {
        "driver_id": [2, 1, 9],
        "rate": [None, None, None],
        "trips": [None, None, None],
    }
    # 2024 rows are far older than the 2 h ttl: stored, but outside it
    assert online.statuses["rate"] == [FieldStatus.OUTSIDE_TTL] * 2 + [FieldStatus.NOT_FOUND]
    stamps = online.event_timestamps["rate"]
    assert stamps[:2] == [
        hours(5).replace(tzinfo=timezone.utc),
        hours(1).replace(tzinfo=timezone.utc),
    ]


def test_materialize_window_is_respected_and_watermark_stored(store) -> None:
    with pytest.warns(StaleFeaturesWarning):
        store.materialize(hours(0), hours(0.5))
    online = store.online_store
    assert (
        online.get_watermark("driver_stats") == hours(0.5).replace(tzinfo=timezone.utc).timestamp()
    )
    keys = online.read("driver_stats", ["1", "2"], ["rate"])
    assert [k[0] for k in keys] == [[0.1], [0.3]]  # rows after 0.5 h are not there yet


def test_incremental_continues_from_the_watermark(store) -> None:
    with pytest.warns(StaleFeaturesWarning):
        first = store.materialize_incremental(hours(0.5))[0]
    assert first.start == hours(-1.5).replace(tzinfo=timezone.utc)  # end - ttl
    with pytest.warns(StaleFeaturesWarning):
        second = store.materialize_incremental(hours(10))[0]
    assert second.start == hours(0.5).replace(tzinfo=timezone.utc)
    assert store.online_store.read("driver_stats", ["2"], ["rate"])[0][0] == [0.5]
    again = store.materialize_incremental(hours(10))[0]  # nothing new: same state, no rows
    assert again.start == again.end
    assert store.online_store.read("driver_stats", ["2"], ["rate"])[0][0] == [0.5]


def test_a_failed_write_leaves_no_rows_and_the_old_watermark(store, monkeypatch) -> None:
    with pytest.warns(StaleFeaturesWarning):
        store.materialize(hours(0), hours(0.5))
    online = store.online_store
    before = online.get_watermark("driver_stats")
    real = sqlite3.Connection.executemany

    class Boom(RuntimeError):
        pass

    def failing(conn, sql, params):  # write half the rows, then die
        params = list(params)
        real(conn, sql, params[:1])
        raise Boom("disk on fire")

    monkeypatch.setattr(online, "_conn", _wrapping(online._conn(), failing))
    with pytest.raises(Boom):
        store.materialize(hours(0), hours(10))
    monkeypatch.undo()
    assert online.get_watermark("driver_stats") == before
    assert online.read("driver_stats", ["1", "2"], ["rate"]) == [
        ([0.1], hours(0).replace(tzinfo=timezone.utc).timestamp()),
        ([0.3], hours(0).replace(tzinfo=timezone.utc).timestamp()),
    ]
    with pytest.warns(StaleFeaturesWarning):
        store.materialize(hours(0), hours(10))  # restart completes it
    assert online.read("driver_stats", ["2"], ["rate"])[0][0] == [0.5]


def _wrapping(conn: sqlite3.Connection, executemany):
    class Proxy:
        def __getattr__(self, name):
            return getattr(conn, name)

        def executemany(self, sql, params):
            return executemany(conn, sql, params)

    proxy = Proxy()
    return lambda: proxy


def test_push_is_read_online_with_present_status(store) -> None:
    now = datetime.now(timezone.utc)
    n = store.push(
        "driver_stats",
        pl.DataFrame({"driver_id": [5], "event_timestamp": [now], "rate": [0.55], "trips": [3]}),
    )
    assert n == 1
    online = store.get_online_features(REFS, [{"driver_id": "5"}])  # key coerced to int64
    assert online.to_dict() == {"driver_id": ["5"], "rate": [0.55], "trips": [3]}
    assert online.statuses["trips"] == [FieldStatus.PRESENT]
    # an older materialized row does not overwrite the newer pushed one
    store.push(
        "driver_stats",
        [{"driver_id": 5, "event_timestamp": now - timedelta(minutes=5), "rate": 0.1, "trips": 1}],
    )
    assert store.get_online_features(REFS, {"driver_id": [5]}).to_dict()["rate"] == [0.55]


def test_push_errors(store) -> None:
    with pytest.raises(MissingJoinKeyError, match="trips"):
        store.push("driver_stats", [{"driver_id": 1, "event_timestamp": T0, "rate": 0.1}])
    with pytest.raises(TimestampTypeError, match="event_timestamp"):
        store.push(
            "driver_stats",
            [{"driver_id": 1, "event_timestamp": "yesterday", "rate": 0.1, "trips": 1}],
        )
    with pytest.raises(FeatureNotFoundError):
        store.push("nope", [{"driver_id": 1}])


def test_online_bad_input(store) -> None:
    with pytest.raises(FeatureNotFoundError, match="driver_stats:speed"):
        store.get_online_features(["driver_stats:speed"], [{"driver_id": 1}])
    with pytest.raises(MissingJoinKeyError, match="driver_id"):
        store.get_online_features(REFS, [{"driver": 1}])
    with pytest.raises(ValidationError, match="int64"):
        store.get_online_features(REFS, [{"driver_id": "one"}])
    with pytest.raises(ValidationError, match="list of dicts"):
        store.get_online_features(REFS, "driver_id=1")


def test_on_demand_runs_the_same_online_and_offline(store, stats_view) -> None:
    @on_demand_feature_view(
        sources=[stats_view[["rate"]], RequestSource("req", [Field("bonus", Float64)])],
        schema=[Field("score", Float64)],
    )
    def score(frame):
        return frame.with_columns(score=frame["rate"].fill_null(0.0) * 10 + frame["bonus"])

    store.apply([score])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    store.push("driver_stats", [{"driver_id": 3, "event_timestamp": now, "rate": 0.25, "trips": 2}])
    refs = ["driver_stats:rate", "score:score"]
    online = store.get_online_features(
        refs, [{"driver_id": 3, "bonus": 1.5}, {"driver_id": 4, "bonus": 1.0}]
    )
    rows = pl.DataFrame({"driver_id": [3, 4], "event_timestamp": [now, now], "bonus": [1.5, 1.0]})
    offline = store.get_historical_features(rows, refs).to_arrow()
    assert online.to_dict()["score"] == offline.column("score").to_pylist() == [4.0, 1.0]


def test_redis_down_is_a_clear_error(project_dir: Path, stats_view) -> None:
    fs = FeatureStore(project_dir, online_store="redis://127.0.0.1:1/0")
    fs.apply([stats_view])
    with pytest.raises(OnlineStoreUnavailableError, match="Redis"):
        fs.get_online_features(REFS, [{"driver_id": 1}])
    with pytest.raises(OnlineStoreUnavailableError, match="start Redis"):
        fs.materialize(hours(0), hours(1))


def test_online_store_choice_from_the_project_file(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text(
        "environments:\n  dev:\n    online_store: {type: sqlite, path: custom/online.db}\n"
    )
    fs = FeatureStore(project_dir)
    assert fs.online_store.path == project_dir / "custom" / "online.db"


def test_feature_service_object_and_name_read_the_same(store, stats_view) -> None:
    from mloop.features import FeatureService

    service = FeatureService("svc", [stats_view[["trips"]]])
    store.apply([service])
    now = datetime.now(timezone.utc)
    store.push("driver_stats", [{"driver_id": 8, "event_timestamp": now, "rate": 0.8, "trips": 80}])
    by_object = store.get_online_features(service, [{"driver_id": 8}]).to_dict()
    by_name = store.get_online_features("svc", [{"driver_id": 8}]).to_dict()
    assert by_object == by_name == {"driver_id": [8], "trips": [80]}
    feast = store.get_online_features(service, [{"driver_id": 8}, {"driver_id": 0}]).to_feast_json()
    assert feast["metadata"]["feature_names"] == ["driver_id", "trips"]
    assert feast["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]
