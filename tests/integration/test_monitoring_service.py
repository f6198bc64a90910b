"""Monitoring what the real prediction service logged: the app runs in-process (httpx ASGI
transport), answers Open Inference Protocol requests and feedback, and monitoring reads its log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _body(frame: Any, rid: str) -> dict[str, Any]:
    types = {"income": "FP64", "age": "FP64", "city": "BYTES"}
    inputs = [
        {"name": c, "shape": [len(frame)], "datatype": t, "data": frame[c].tolist()}
        for c, t in types.items()
    ]
    return {
        "id": rid,
        "inputs": inputs,
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }


async def _traffic(app: Any, frames: list[tuple[Any, Any]]) -> list[str]:
    ids = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
            for _ in range(200):
                if (await client.get("/v2/health/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            for i, (frame, labels) in enumerate(frames):
                answer = await client.post("/v2/models/credit/infer", json=_body(frame, f"q{i}"))
                assert answer.status_code == 200, answer.text
                ids.append(answer.json()["id"])
                if i % 2 == 0:
                    fb = await client.post(
                        "/feedback", json={"request_id": ids[-1], "labels": labels.tolist()}
                    )
                    assert fb.status_code == 200, fb.text
    return ids


def test_monitoring_reads_the_service_log(project_dir: Path, monitoring_kit: Any) -> None:
    from mloop.monitoring import run_monitoring
    from mloop.serving.http.app import create_app
    from mloop.serving.settings import ServingConfig

    kit = monitoring_kit
    project = kit.Project(project_dir)
    project.register()
    frames = []
    for i in range(40):  # 40 requests of 10 rows; the second half shifted
        frame, labels = kit.make_frame(10, seed=100 + i, shift=1.5 if i >= 20 else 0.0)
        frames.append((frame, labels))
    config = ServingConfig("models:/credit@production", log_dir=project.log_dir, poll_interval_s=0)
    ids = asyncio.run(_traffic(create_app(config), frames))
    assert len(ids) == 40
    report = run_monitoring("credit", window="1h", now=datetime.now(timezone.utc))
    assert report.num_rows == 400 and report.num_requests == 40 and report.version == "1"
    assert report.labelled_rows == 200
    assert report.metrics["accuracy"] > 0.9 and "roc_auc" in report.metrics
    assert {"income", "age"} <= set(report.drift.drifted_features)
    assert report.latency_ms["p99"] > 0
