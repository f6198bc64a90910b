"""A UI over a fresh project, and a synchronous client for it (httpx over ASGI, no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from mloop.metadata.entities import Artifact, ExecutionState, Metric, RunState
from mloop.metadata.monitoring_records import MonitoringRecord


class UiClient:
    """Requests to the ASGI app with a cookie jar that lasts across requests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://ui", cookies=self.cookies
            ) as client:
                response = await client.request(method, url, **kwargs)
                self.cookies = httpx.Cookies(client.cookies)
                return response

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@dataclass
class UiProject:
    folder: Path
    settings: Any
    store: Any
    app: Any

    def client(self) -> UiClient:
        return UiClient(self.app)


def make_project(
    folder: Path, *, admin_token: str | None = "t0ken", metadata: str = "sqlite:///.mloop/mloop.db"
) -> UiProject:
    from mloop.config import load_settings
    from mloop.ui.app import create_app

    (folder / "mloop.yaml").write_text(
        "project: uitest\n"
        "environments:\n"
        f"  dev: {{metadata: '{metadata}', artifacts: .mloop/artifacts}}\n"
        f"  prod: {{metadata: '{metadata}', artifacts: .mloop/artifacts}}\n"
        "pipelines:\n"
        "  training: {entrypoint: pipelines/training.py:training}\n",
        encoding="utf-8",
    )
    settings = load_settings(folder, env="dev")
    app = create_app(settings, admin_token=admin_token)
    return UiProject(folder, settings, app.state.ui.store, app)


@pytest.fixture
def ui_project(project_dir: Path) -> Iterator[UiProject]:
    from mloop.metadata.connect import disconnect_all

    yield make_project(project_dir)
    disconnect_all()


# -- rows of every kind the UI shows, written through the store's public API ---------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # tz-aware, not UTC
SPEC = {
    "name": "training",
    "params": {},
    "steps": {
        "ingest": {
            "step": "ingest",
            "inputs": {},
            "after": [],
            "params": {},
            "outputs": ["output"],
        },
        "train": {
            "step": "train",
            "inputs": {"data": ["ingest", "output"]},
            "after": [],
            "params": {},
            "outputs": ["output"],
        },
    },
}


def seed_runs(
    store: Any, n: int, *, experiment: str = "exp", model: str | None = None
) -> list[str]:
    """``n`` finished pipeline runs of two steps each (ingest -> train), with params, metric
    history (one NaN), tags, artifacts; each run's model registered when ``model`` is given."""
    store.upsert_pipeline("training", "v1", SPEC)
    ids = []
    for i in range(n):
        run = store.create_run(
            experiment,
            pipeline_name="training",
            pipeline_version="v1",
            trigger="test",
            tags={"i": str(i)},
        )
        store.log_params(run.id, {"lr": 0.1 * (i + 1), "depth": i % 3})
        store.log_metrics(
            run.id,
            [
                Metric("auc", 0.5 + i / (2 * n + 2), step=s, timestamp=T0 + timedelta(minutes=s))
                for s in range(3)
            ]
            + [Metric("loss", float("nan"), step=0, timestamp=T0)],
        )
        data_id = _step(store, run.id, "ingest", {}, "Dataset")
        model_id = _step(store, run.id, "train", {"data": data_id}, "Model")
        store.finish_run(run.id, RunState.SUCCEEDED if i % 4 else RunState.FAILED, error=None)
        if model is not None:
            store.model_registry().create_version(
                model,
                uri=f"models/{model}/{i}",
                digest="d" * 64,
                artifact_id=model_id,
                run_id=run.id,
                data_artifact_id=data_id,
                metrics={"auc": 0.7},
            )
        ids.append(run.id)
    return ids


def _step(store: Any, run_id: str, name: str, inputs: dict[str, str], kind: str) -> str:
    from mloop._utils.ids import new_id

    ex = store.create_execution(run_id, name, inputs=inputs)
    artifact = Artifact(
        id=new_id(),
        type=kind,
        uri=f"runs/{run_id}/{name}/output",
        digest="0" * 64,
        size=10,
        created_at=T0,
        properties={"rows": 3},
    )
    store.finish_execution(
        ex.id, ExecutionState.SUCCEEDED, new_artifacts=[artifact], outputs={"output": artifact.id}
    )
    return artifact.id


def seed_operations(store: Any, model: str, n: int) -> None:
    """``n`` monitoring reports, one alert per report rule, ``n`` trigger events."""
    from mloop._utils.ids import new_id

    mon = store.monitoring()
    for i in range(n):
        start = T0 + timedelta(hours=i)
        record = mon.add_report(
            MonitoringRecord(
                id=new_id(),
                model=model,
                window_start=start,
                window_end=start + timedelta(hours=1),
                created_at=start + timedelta(hours=1),
                num_rows=100 + i,
                dataset_drifted=i % 2 == 0,
                share_drifted=i / max(n, 1),
                prediction_drift=None if i == 0 else 0.1,
                summary={"metrics": {"roc_auc": 0.7 + i / 100}},
            )
        )
        mon.raise_alert(model, f"rule{i}", severity="warning", message="drift", report_id=record.id)
        store.controller_state().record_event("training", "drift", f"drift {i}", {"i": i})


@pytest.fixture
def seed() -> SimpleNamespace:
    """The seeding helpers above, for test modules (a conftest cannot be imported by name)."""
    return SimpleNamespace(runs=seed_runs, operations=seed_operations, make_project=make_project)
