"""The feature server over real HTTP on 127.0.0.1 (uvicorn in a thread), in Feast's format."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import polars as pl
import pytest
import uvicorn

from mloop.errors import StaleFeaturesWarning
from mloop.features import Entity, FeatureService, FeatureView, Field, FileSource, Float64, Int64
from mloop.features.server import OnlineFeatureHook, create_app
from mloop.features.store import FeatureStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(project_dir: Path) -> Iterator[FeatureStore]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    pl.DataFrame(
        {
            "driver_id": [1, 2],
            "event_timestamp": [now - timedelta(minutes=5), now - timedelta(days=3)],
            "rate": [0.5, 0.7],
            "trips": [10, 20],
        }
    ).write_parquet(project_dir / "stats.parquet")
    view = FeatureView(
        "driver_stats",
        [Entity("driver", join_keys=["driver_id"])],
        [Field("rate", Float64), Field("trips", Int64)],
        FileSource("stats.parquet"),
        ttl=timedelta(days=1),
    )
    fs = FeatureStore(project_dir)
    fs.apply([view, FeatureService("model_v1", [view[["rate"]]])])
    with pytest.warns(StaleFeaturesWarning, match="1 of 2 rows"):  # driver 2 is 3 days old
        fs.materialize(now - timedelta(days=7), now)
    yield fs
    fs.close()


@pytest.fixture
def base_url(store: FeatureStore) -> Iterator[str]:
    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the feature server did not start within 10 s")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_online_features_in_feast_format(base_url: str) -> None:
    body = {
        "features": ["driver_stats:rate", "driver_stats:trips"],
        "entities": {"driver_id": [1, 2, 3]},
    }
    reply = httpx.post(f"{base_url}/get-online-features", json=body, timeout=10)
    assert reply.status_code == 200
    data = reply.json()
    assert data["metadata"]["feature_names"] == ["driver_id", "rate", "trips"]
    keys, rate, trips = data["results"]
    assert keys["values"] == [1, 2, 3]
    assert rate["values"] == [0.5, None, None]
    assert rate["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    counts = {"PRESENT": 2, "OUTSIDE_MAX_AGE": 2, "NOT_FOUND": 2}  # of rate and trips
    assert data["metadata"]["status_counts"] == counts
    assert trips["values"][0] == 10
    assert rate["event_timestamps"][0].startswith(str(datetime.now(timezone.utc).year))
    assert httpx.get(f"{base_url}/health", timeout=10).json() == {"status": "ok"}


def test_feature_service_by_name(base_url: str) -> None:
    body = {"feature_service": "model_v1", "entities": {"driver_id": [1]}}
    data = httpx.post(f"{base_url}/get-online-features", json=body, timeout=10).json()
    assert data["metadata"]["feature_names"] == ["driver_id", "rate"]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "bad_request"),
        (
            b'{"features": ["driver_stats:nope"], "entities": {"driver_id": [1]}}',
            404,
            "not_found",
        ),
        (
            b'{"features": ["driver_stats:rate"], "entities": {"driver": [1]}}',
            422,
            "invalid_input",
        ),
        (
            b'{"features": ["driver_stats:rate"], "entities": {"driver_id": ["x"]}}',
            422,
            "invalid_input",
        ),
        (b'{"entities": {"driver_id": [1]}}', 422, "invalid_input"),
        (b"[1, 2]", 422, "invalid_input"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(
    base_url: str, content: bytes, status: int, code: str
) -> None:
    reply = httpx.post(f"{base_url}/get-online-features", content=content, timeout=10)
    assert reply.status_code == status
    assert reply.json()["error_code"] == code and reply.json()["message"]


def test_prediction_hook_adds_features_to_rows(store: FeatureStore) -> None:
    hook = OnlineFeatureHook(store, "model_v1")
    assert hook([{"driver_id": 1, "amount": 3.0}]) == [{"driver_id": 1, "amount": 3.0, "rate": 0.5}]
