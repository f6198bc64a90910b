"""The feature store end to end on the machine's real Redis: materialize, watermark, push, read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from mloop._utils.ids import new_id
from mloop.features import Entity, FeatureView, Field, FileSource, Float64, Int64, String
from mloop.features.online import FieldStatus
from mloop.features.online_stores.redis import RedisOnlineStore
from mloop.features.store import FeatureStore

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def store(project_dir: Path, redis_url: str) -> Iterator[FeatureStore]:
    pl.DataFrame(
        {
            "origin": ["JFK", "JFK", "LGA", "EWR"],
            "time_hour": [
                NOW - timedelta(hours=3),
                NOW - timedelta(hours=1),
                NOW - timedelta(hours=2),
                NOW - timedelta(days=5),
            ],
            "temp": [40.0, 42.0, 39.0, 30.0],
            "visib": [10, 9, 8, 7],
        }
    ).write_parquet(project_dir / "weather.parquet")
    view = FeatureView(
        "weather",
        [Entity("origin", value_type=String)],
        [Field("temp", Float64), Field("visib", Int64)],
        FileSource("weather.parquet", timestamp_field="time_hour"),
        ttl=timedelta(days=1),
    )
    online = RedisOnlineStore(redis_url, namespace=f"test-{new_id()}")
    fs = FeatureStore(project_dir, online_store=online)
    fs.apply([view])
    yield fs
    online.delete_view("weather")
    fs.close()


def test_materialize_and_read(store: FeatureStore) -> None:
    (result,) = store.materialize(NOW - timedelta(days=7), NOW)
    assert result.rows == 3
    online = store.get_online_features(
        ["weather:temp", "weather:visib"], [{"origin": o} for o in ("JFK", "EWR", "SFO")]
    )
    assert online.to_dict() == {
        "origin": ["JFK", "EWR", "SFO"],
        "temp": [42.0, None, None],
        "visib": [9, None, None],
    }
    assert online.statuses["temp"] == [
        FieldStatus.PRESENT,
        FieldStatus.OUTSIDE_TTL,
        FieldStatus.NOT_FOUND,
    ]
    assert online.event_timestamps["temp"][0] == NOW - timedelta(hours=1)


def test_incremental_watermark_and_push(store: FeatureStore) -> None:
    store.materialize_incremental(NOW - timedelta(hours=2))
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        40.0
    ]
    second = store.materialize_incremental(NOW)[0]
    assert second.start == NOW - timedelta(hours=2)
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        42.0
    ]
    store.push("weather", [{"origin": "JFK", "time_hour": NOW, "temp": 50.0, "visib": 1}])
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        50.0
    ]
    store.materialize(NOW - timedelta(days=7), NOW - timedelta(minutes=1))  # older: no overwrite
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        50.0
    ]


def test_a_failed_transaction_does_not_advance_the_watermark(
    store: FeatureStore, monkeypatch
) -> None:
    online = store.online_store
    store.materialize(NOW - timedelta(days=7), NOW - timedelta(hours=2))
    before = online.get_watermark("weather")
    import redis

    def broken(self, *args, **kwargs):
        raise redis.exceptions.ConnectionError("connection lost mid-batch")

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    with pytest.raises(Exception, match="unreachable or failed"):
        store.materialize(NOW - timedelta(days=7), NOW)
    monkeypatch.undo()
    assert online.get_watermark("weather") == before
    store.materialize_incremental(NOW)
    assert online.get_watermark("weather") == NOW.timestamp()
