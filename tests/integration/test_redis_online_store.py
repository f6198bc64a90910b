"""The feature store end to end on the machine's real Redis: materialize, watermark, push, read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from mloop._utils.ids import new_id
from mloop.errors import StaleFeaturesWarning
from mloop.features import Entity, FeatureView, Field, FileSource, Float64, Int64, String
from mloop.features.materialize import DEFAULT_LOOKBACK
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
    with pytest.warns(StaleFeaturesWarning, match="1 of 3 rows"):  # EWR's row is 5 days old
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
    assert second.start == NOW - timedelta(hours=2) - DEFAULT_LOOKBACK  # late rows read again
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        42.0
    ]
    store.push("weather", [{"origin": "JFK", "time_hour": NOW, "temp": 50.0, "visib": 1}])
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        50.0
    ]
    with pytest.warns(StaleFeaturesWarning):  # older: no overwrite
        store.materialize(NOW - timedelta(days=7), NOW - timedelta(minutes=1))
    assert store.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()["temp"] == [
        50.0
    ]


def test_a_failed_transaction_does_not_advance_the_watermark(
    store: FeatureStore, monkeypatch
) -> None:
    online = store.online_store
    with pytest.warns(StaleFeaturesWarning):
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


def _project(folder: Path, name: str | None, temp: float, url: str) -> FeatureStore:
    """A project at ``folder`` (``project: name`` in mloop.yaml when given) with one view."""
    folder.mkdir(parents=True)
    if name is not None:
        (folder / "mloop.yaml").write_text(f"project: {name}\n")
    pl.DataFrame(
        {"origin": ["JFK"], "time_hour": [NOW - timedelta(minutes=5)], "temp": [temp], "visib": [9]}
    ).write_parquet(folder / "weather.parquet")
    view = FeatureView(
        "weather",
        [Entity("origin", value_type=String)],
        [Field("temp", Float64), Field("visib", Int64)],
        FileSource("weather.parquet", timestamp_field="time_hour"),
        ttl=timedelta(days=1),
    )
    fs = FeatureStore(folder, online_store={"type": "redis", "url": url})
    fs.apply([view])
    return fs


def test_two_projects_on_one_redis_do_not_share_values(tmp_path: Path, redis_url: str) -> None:
    unique = new_id()
    shop = _project(tmp_path / "a", f"shop-{unique}", 10.0, redis_url)  # named in mloop.yaml
    depot = _project(tmp_path / f"depot-{unique}", None, 20.0, redis_url)  # named by its folder
    try:
        assert shop.project == f"shop-{unique}" and depot.project == f"depot-{unique}"
        assert shop.online_store.namespace == f"mloop:shop-{unique}"
        assert depot.online_store.namespace == f"mloop:depot-{unique}"
        shop.materialize(NOW - timedelta(days=1), NOW)
        assert depot.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()[
            "temp"
        ] == [None]  # not the other project's value
        depot.materialize(NOW - timedelta(days=1), NOW)
        for fs, temp in ((shop, 10.0), (depot, 20.0)):
            online = fs.get_online_features(["weather:temp"], [{"origin": "JFK"}])
            assert online.to_dict()["temp"] == [temp]
        assert shop.online_store.get_watermark("weather") == NOW.timestamp()
        # an explicit namespace is the override: here, reading the shop's keys on purpose
        shared = FeatureStore(
            tmp_path / f"depot-{unique}",
            online_store={"type": "redis", "url": redis_url, "namespace": f"mloop:shop-{unique}"},
        )
        assert shared.get_online_features(["weather:temp"], [{"origin": "JFK"}]).to_dict()[
            "temp"
        ] == [10.0]
        shared.close()
    finally:
        for fs in (shop, depot):
            fs.online_store.delete_view("weather")
            fs.close()


def test_a_read_of_three_views_is_one_round_trip(project_dir: Path, redis_url: str) -> None:
    entity = Entity("origin", value_type=String)
    views = []
    for i in range(3):
        pl.DataFrame(
            {"origin": ["JFK", "LGA"], "time_hour": [NOW] * 2, f"x{i}": [float(i), i + 0.5]}
        ).write_parquet(project_dir / f"v{i}.parquet")
        views.append(
            FeatureView(
                f"v{i}",
                [entity],
                [Field(f"x{i}", Float64)],
                FileSource(f"v{i}.parquet", timestamp_field="time_hour"),
            )
        )
    online = RedisOnlineStore(redis_url, namespace=f"test-{new_id()}")
    fs = FeatureStore(project_dir, online_store=online)
    fs.apply(views)
    fs.materialize(NOW - timedelta(days=1), NOW)
    calls = []
    client = online.client
    real = client.pipeline

    def counting(*args, **kwargs):
        pipe = real(*args, **kwargs)
        execute = pipe.execute
        pipe.execute = lambda *a, **k: calls.append(1) or execute(*a, **k)
        return pipe

    client.pipeline = counting
    client.hmget = lambda *a, **k: pytest.fail("a lone HMGET: one round trip per view")
    refs = ["v0:x0", "v1:x1", "v2:x2"]
    try:
        one = fs.get_online_features(refs, [{"origin": "LGA"}]).to_dict()
        assert one == {"origin": ["LGA"], "x0": [0.5], "x1": [1.5], "x2": [2.5]}
        assert len(calls) == 1
        many = fs.get_online_features(refs, [{"origin": o} for o in ("JFK", "SFO", "LGA")])
        assert many.to_dict()["x2"] == [2.0, None, 2.5] and len(calls) == 2
    finally:
        del client.pipeline, client.hmget
        for i in range(3):
            online.delete_view(f"v{i}")
        fs.close()


def test_null_values_materialize_to_redis_as_null_value(project_dir: Path, redis_url: str) -> None:
    pl.DataFrame(
        {
            "origin": ["JFK", "LGA"],
            "time_hour": [NOW - timedelta(minutes=5)] * 2,
            "temp": [None, float("nan")],
            "visib": [None, 3],
        }
    ).write_parquet(project_dir / "nulls.parquet")
    view = FeatureView(
        "nulls",
        [Entity("origin", value_type=String)],
        [Field("temp", Float64), Field("visib", Int64)],
        FileSource("nulls.parquet", timestamp_field="time_hour"),
        ttl=timedelta(days=1),
    )
    online = RedisOnlineStore(redis_url, namespace=f"test-{new_id()}")
    fs = FeatureStore(project_dir, online_store=online)
    fs.apply([view])
    try:
        (result,) = fs.materialize(NOW - timedelta(days=1), NOW)  # crashed on the first None
        assert result.rows == 2
        got = fs.get_online_features(
            ["nulls:temp", "nulls:visib"], [{"origin": o} for o in ("JFK", "LGA", "SFO")]
        )
        assert got.to_dict()["temp"] == [None, None, None]
        assert got.to_dict()["visib"] == [None, 3, None]
        null, found, missing = (
            FieldStatus.NULL_VALUE,
            FieldStatus.PRESENT,
            FieldStatus.NOT_FOUND,
        )
        assert got.statuses["temp"] == [null, null, missing]
        assert got.statuses["visib"] == [null, found, missing]
    finally:
        online.delete_view("nulls")
        fs.close()
