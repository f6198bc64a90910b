"""Failed requests of the real prediction service, over HTTP on 127.0.0.1: the error log,
``error_rate`` in monitoring, an alert on it, and a rollback of a version that fails requests.

The service is the real app under uvicorn, run in a thread of the test on a loopback socket
bound here, stopped through uvicorn's graceful shutdown (which flushes the logs, as SIGTERM
does). Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def loopback_service(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 (a free port) until the block ends; yields its URL."""
    import uvicorn

    from mloop.serving.workers import bind_socket

    sock = bind_socket("127.0.0.1", 0, reuse_port=False)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not get ready within 60 s"
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "the service did not stop within 30 s"


def _body(frame: Any, rid: str | None = None) -> dict[str, Any]:
    types = {"income": "FP64", "age": "FP64", "city": "BYTES"}
    body: dict[str, Any] = {
        "inputs": [
            {"name": c, "shape": [len(frame)], "datatype": t, "data": frame[c].tolist()}
            for c, t in types.items()
            if c in frame.columns
        ]
    }
    if rid:
        body["id"] = rid
    return body


def _crashing_loader(uri: str) -> Any:
    """The real loader, but the model raises (a bug, not bad input) on a negative income."""
    from mloop.serving.models.source import ServedModel, load_served_model

    class Crashing(ServedModel):
        def predict(self, columns: Any, want_proba: bool) -> Any:
            if np.any(np.asarray(columns["income"]) < 0):
                raise RuntimeError("division by zero deep inside the model")
            return super().predict(columns, want_proba)

    model = load_served_model(uri)
    return Crashing(**{f.name: getattr(model, f.name) for f in dataclasses.fields(model)})


@pytest.fixture(autouse=True)
def _fresh_registry(project_dir: Path) -> Iterator[None]:
    """The service caches the registry per process: forget the previous test's project."""
    from mloop.serving.models import registry_access

    registry_access.reset()
    yield
    registry_access.reset()


def _error_log(log_dir: Path) -> Any:
    import polars as pl

    files = sorted((log_dir / "errors").rglob("part-*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def test_failed_requests_are_logged_and_make_the_error_rate(
    project_dir: Path, monitoring_kit: Any
) -> None:
    from mloop.monitoring import run_monitoring
    from mloop.serving.http.app import create_app
    from mloop.serving.settings import ServingConfig

    kit = monitoring_kit
    project = kit.Project(project_dir)
    project.register()
    config = ServingConfig("models:/credit@production", log_dir=project.log_dir, poll_interval_s=0)
    app = create_app(config, loader=_crashing_loader)
    answers: dict[int, list[httpx.Response]] = {}
    with loopback_service(app) as url, httpx.Client(base_url=url, timeout=10) as client:

        def post(path: str, **kw: Any) -> httpx.Response:
            answer = client.post(path, **kw)
            answers.setdefault(answer.status_code, []).append(answer)
            return answer

        for i in range(30):  # answered
            frame, _ = kit.make_frame(10, seed=200 + i)
            post("/v2/models/credit/infer", json=_body(frame, f"ok{i}"))
        frame, _ = kit.make_frame(3, seed=1)
        for i in range(3):  # 400: not JSON
            post("/v2/models/credit/infer", content=b"{nope", headers={"x-request-id": f"b{i}"})
        for _ in range(3):  # 422: an input is missing
            post("/v2/models/credit/infer", json=_body(frame.drop(columns=["city"])))
        for _ in range(2):  # 404: another model's name
            post("/v2/models/other/infer", json=_body(frame))
        negative = frame.assign(income=-1.0)
        for _ in range(2):  # 500: the model crashes
            post("/v2/models/credit/infer", json=_body(negative))
        for _ in range(2):  # 400 on the MLflow route
            post("/invocations", content=b"[", headers={"content-type": "application/json"})
        # not inference routes: never in the error log
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.post("/feedback", content=b"{").status_code == 400
        assert client.post("/admin/reload", content=b"[").status_code in (400, 403)
    # every failure still got its answer, as before
    assert {k: len(v) for k, v in answers.items()} == {200: 30, 400: 5, 422: 3, 404: 2, 500: 2}
    crash = answers[500][0].json()
    assert crash == {
        "error_code": "internal",
        "message": "internal error in mloop (a bug); see the server log",
    }
    assert answers[422][0].json()["error_code"] == "invalid_input"

    errors = _error_log(project.log_dir)  # flushed at shutdown
    assert errors.height == 12
    assert set(errors["model"]) == {"credit"} and set(errors["version"]) == {"1"}
    assert sorted(errors["status"].to_list()) == [400] * 5 + [404] * 2 + [422] * 3 + [500] * 2
    assert {"b0", "b1", "b2"} <= set(errors["request_id"])
    assert set(errors.filter(errors["status"] == 500)["message"]) == {
        "RuntimeError: division by zero deep inside the model"
    }
    assert sorted(set(errors["protocol"])) == ["mlflow", "oip"]
    assert (errors["latency_ms"] >= 0).all()

    rules = [{"name": "errors", "metric": "error_rate", "above": 0.1, "min_rows": 20}]
    sent: list[dict] = []
    report = run_monitoring(
        "credit", window="1h", now=datetime.now(timezone.utc), rules=rules, notify=sent.append
    )
    assert report.num_requests == 30 and report.failed_requests == 12
    assert report.requests == 42 and report.error_rate == pytest.approx(12 / 42)
    assert report.server_failed_requests == 2
    assert report.server_error_rate == pytest.approx(2 / 42)
    assert report.by_version["1"]["error_rate"] == pytest.approx(12 / 42)
    (alert,) = report.alerts
    assert alert.rule == "errors" and alert.value == pytest.approx(12 / 42)
    assert [p["event"] for p in sent] == ["alert.opened"]


def _served_version(client: httpx.Client) -> str:
    return str(client.get("/v2/models/credit").json()["versions"][0])


def _wait_for_version(client: httpx.Client, version: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while _served_version(client) != version:
        assert time.monotonic() < deadline, f"the service did not swap to version {version}"
        time.sleep(0.05)


def _wait_for_files(folder: Path, count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(folder.rglob("part-*.parquet"))) < count:
        assert time.monotonic() < deadline, f"no log file under {folder} after {timeout_s} s"
        time.sleep(0.05)


def test_a_promoted_version_that_fails_requests_is_rolled_back(
    project_dir: Path, monitoring_kit: Any
) -> None:
    from mloop import registry
    from mloop.monitoring import run_monitoring
    from mloop.serving.http.app import create_app
    from mloop.serving.settings import ServingConfig

    kit = monitoring_kit
    project = kit.Project(project_dir)
    good = project.register("good")
    strict = project.register("strict", alias=False)  # raises on a city it never saw
    config = ServingConfig(
        "models:/credit@production",
        log_dir=project.log_dir,
        poll_interval_s=0.1,
        log_flush_interval_s=0.1,
    )
    frame, _ = kit.make_frame(4, seed=3)
    unseen = frame.assign(city="marseille")
    policy = {"probation": "1h", "rules": [{"metric": "error_rate", "above": 0.2, "min_rows": 20}]}
    with loopback_service(create_app(config)) as url, httpx.Client(base_url=url) as client:
        infer = "/v2/models/credit/infer"
        for _ in range(10):  # the champion takes unseen cities in its stride
            assert client.post(infer, json=_body(unseen)).status_code == 200
        registry.set_alias("credit", "production", strict, reason="newly trained")
        _wait_for_version(client, str(strict))
        statuses = [client.post(infer, json=_body(f)).status_code for f in [frame, unseen] * 10]
        assert statuses == [200, 422] * 10
        _wait_for_files(project.log_dir / "errors", 1)
        time.sleep(0.5)  # the last flush interval
        report = run_monitoring(
            "credit", window="1h", now=datetime.now(timezone.utc), rollback=policy
        )
        # judged on the new version's own requests: 10 of its 20 failed; the old one's are fine
        assert report.by_version[str(strict)]["error_rate"] == pytest.approx(0.5)
        assert report.by_version[str(good)]["error_rate"] == 0.0
        assert report.rollback is not None
        assert (report.rollback["from_version"], report.rollback["to_version"]) == (strict, good)
        last = project.store().model_registry().alias_history("credit", "production")[-1]
        assert last.kind == "rollback" and last.to_version == good
        assert "error_rate" in last.reason and "20 requests" in last.reason
        _wait_for_version(client, str(good))  # the service follows the alias back
        assert client.post(infer, json=_body(unseen)).status_code == 200
