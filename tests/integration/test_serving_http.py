"""``mloop serve`` over real HTTP on 127.0.0.1: a uvicorn subprocess started and stopped here.

A hot swap (alias moved, then rolled back) under concurrent load answers every request; SIGTERM
to a two-worker service writes every acknowledged prediction to the log; traffic is changed
from the CLI. Every loop here is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

pytestmark = pytest.mark.integration

ROW = {"age": 30, "income": 20.0, "city": "paris", "member": True}


def save_package(folder: Path, constant: int | None = None) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import mloop.models

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 100).astype("int64"),
            "income": rng.normal(50.0, 10.0, 100),
            "city": rng.choice(["paris", "lyon"], 100).astype(object),
            "member": rng.random(100) > 0.5,
        }
    )
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("flag", "passthrough", ["member"]),
        ]
    )
    clf = (
        LogisticRegression()
        if constant is None
        else DummyClassifier(strategy="constant", constant=constant)
    )
    model = Pipeline([("prep", prep), ("clf", clf)]).fit(frame, (frame["income"] > 50).astype(int))
    mloop.models.save_model(model, folder, input_example=frame.head(5))
    return folder


def oip_body(rows: int = 1, rid: str | None = None) -> dict:
    types = {"age": "INT64", "income": "FP64", "city": "BYTES", "member": "BOOL"}
    body: dict = {
        "inputs": [
            {"name": c, "shape": [rows], "datatype": t, "data": [ROW[c]] * rows}
            for c, t in types.items()
        ]
    }
    if rid:
        body["id"] = rid
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mloop_serve(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start ``mloop serve`` and wait (at most 60 s) until it is ready; stop it afterwards."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    log = open(cwd / f"serve-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop", "serve", *args, "--port", str(port)],
        cwd=cwd,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError((cwd / f"serve-{port}.log").read_text())
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the service did not get ready within 60 s")
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


async def hammer(
    url: str, stop: asyncio.Event, concurrency: int, seen: list[tuple[int, str]]
) -> None:
    """Send single-row OIP requests from ``concurrency`` clients until ``stop`` (or 30 s)."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one_client() -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    resp = await client.post("/v2/models/credit/infer", json=oip_body())
                    seen.append((resp.status_code, resp.json().get("model_version", "?")))
                except httpx.HTTPError as exc:
                    seen.append((0, type(exc).__name__))

        await asyncio.gather(*(one_client() for _ in range(concurrency)))


def test_hot_swap_and_rollback_under_concurrent_load_drop_nothing(project_dir: Path) -> None:
    import mloop.registry

    mloop.registry.register_model("credit", save_package(project_dir / "v1"))
    mloop.registry.register_model("credit", save_package(project_dir / "v2", constant=1))
    mloop.registry.set_alias("credit", "production", 1, reason="first")
    args = ["models:/credit@production", "--poll-interval", "0.1", "--no-log"]
    with mloop_serve(args, project_dir) as (_, url):

        async def scenario() -> list[tuple[int, str]]:
            seen: list[tuple[int, str]] = []
            stop = asyncio.Event()
            load = asyncio.create_task(hammer(url, stop, 8, seen))

            async def wait_for(version: str) -> None:
                start = len(seen)
                for _ in range(300):
                    await asyncio.sleep(0.05)
                    if any(v == version for _, v in seen[start:]):
                        return
                raise AssertionError(f"version {version} never answered")

            await asyncio.sleep(0.5)
            await asyncio.to_thread(
                mloop.registry.set_alias, "credit", "production", 2, reason="v2"
            )
            await wait_for("2")
            await asyncio.sleep(0.3)
            await asyncio.to_thread(mloop.registry.rollback, "credit", "production", reason="back")
            await wait_for("1")
            await asyncio.sleep(0.3)
            stop.set()
            await load
            return seen

        seen = asyncio.run(scenario())
    statuses = {s for s, _ in seen}
    assert statuses == {200}, [x for x in seen if x[0] != 200][:5]
    versions = [v for _, v in seen]
    assert versions[0] == "1" and "2" in versions and versions[-1] == "1"
    assert len(seen) > 50


def test_sigterm_writes_every_acknowledged_prediction(tmp_path: Path) -> None:
    package = save_package(tmp_path / "credit")
    logs = tmp_path / "logs"
    args = [str(package), "--workers", "2", "--log-dir", str(logs), "--log-flush-seconds", "300"]
    with mloop_serve(args, tmp_path) as (proc, url):

        async def send() -> list[str]:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                resps = await asyncio.gather(
                    *(
                        client.post("/v2/models/credit/infer", json=oip_body(2, f"r{i}"))
                        for i in range(40)
                    )
                )
            assert all(r.status_code == 200 for r in resps), [r.text for r in resps][:3]
            return [r.json()["id"] for r in resps]

        ids = asyncio.run(send())
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert not list(logs.rglob("*.parquet"))  # still queued: the flush interval is 300 s
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("mloop_requests_total{") and 'status="200"' in line
    )
    assert total == 40  # counted across both workers
    table = ds.dataset(logs / "predictions", format="parquet").to_table()
    assert table.num_rows == 80
    assert sorted(set(table.column("request_id").to_pylist())) == sorted(ids)


def test_traffic_is_changed_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mloop.cli.main import app

    credit = save_package(tmp_path / "credit")
    zeros = save_package(tmp_path / "zeros", constant=0)
    ones = save_package(tmp_path / "ones", constant=1)
    env = {"MLOOP_SERVE_ADMIN_TOKEN": "adm"}
    with mloop_serve([str(credit), "--no-log"], tmp_path, env) as (_, url):
        body = {"dataframe_records": [ROW | {"income": 90.0}]}
        assert httpx.post(f"{url}/invocations", json=body).json() == {"predictions": [1]}
        runner = CliRunner()
        changed = runner.invoke(
            app,
            ["traffic", "--url", url, "--canary", f"{zeros}:100", "--shadow", str(ones)],
            env=env,
        )
        assert changed.exit_code == 0, changed.output
        assert "zeros" in changed.output and "(100%)" in changed.output
        assert httpx.post(f"{url}/invocations", json=body).json() == {"predictions": [0]}
        refused = runner.invoke(
            app, ["traffic", "--url", url, "--clear"], env={"MLOOP_SERVE_ADMIN_TOKEN": "wrong"}
        )
        assert refused.exit_code == 2 and "403" in refused.output
        kept = runner.invoke(app, ["traffic", "--url", url, "--shadow", str(credit)], env=env)
        assert kept.exit_code == 0 and "(100%)" in kept.output  # the canary stays (17.4)
        assert "shadow    " + str(credit) in kept.output
        off = runner.invoke(app, ["traffic", "--url", url, "--canary", "off", "--json"], env=env)
        assert off.exit_code == 0 and '"canary": null' in off.output, off.output
        assert str(credit) in off.output  # the shadow stays
        cleared = runner.invoke(app, ["traffic", "--url", url, "--clear", "--json"], env=env)
        assert cleared.exit_code == 0 and '"canary": null' in cleared.output
        assert httpx.post(f"{url}/invocations", json=body).json() == {"predictions": [1]}
