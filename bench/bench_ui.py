"""UI pages on a store of 100,000 runs: each page's median server time beside the raw SQL it needs.

The store is bench_store_scale.py's (100,000 runs x 10 params + 10 metrics, one execution and one
Model artifact each, a lineage chain through all of them) plus a registered model with 30
versions and aliases, 500 monitoring reports with alerts and 500 trigger events. Each page is
requested in-process over ASGI; its server time is the ``Server-Timing: app;dur=`` the UI adds
(routing, queries, template rendering; no network). The run list's experiment and pipeline
drop-downs are cached for 5 s, so one more row measures the metric-sorted list without it.
The limit beside each page is its main SQL statement run by hand on the driver.
Budget: every page < 300 ms.

The deployments page also lists 20 running services (10 traffic changes each) and 20 pending
deployments. Run: python bench/bench_ui.py [--runs 100000] [--repeat 7] [--only /deployments]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from bench_store_scale import load_sqlite, run_id  # the 100,000-run builder

BUDGET_MS = 300.0
MODEL = "scale_model"
SERVICES = 20  # running services (10 traffic changes each) and pending deployments


def build(folder: Path, n: int) -> Any:
    from mloop._utils.clock import utc_now
    from mloop._utils.ids import new_id
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.metadata.monitoring_records import MonitoringRecord

    (folder / "mloop.yaml").write_text(
        "project: bench\nenvironments:\n  dev: {}\n  prod: {}\n"
        "pipelines:\n  training: {entrypoint: p.py:training}\n",
        encoding="utf-8",
    )
    settings = load_settings(folder, env="dev")
    store = connect(settings.metadata_url)  # the UI reuses this connection
    load_sqlite(store, n)
    registry = store.model_registry()
    for i in range(30):
        registry.create_version(
            MODEL,
            uri=f"models/{MODEL}/{i}",
            digest="d" * 64,
            artifact_id=f"art{n - 30 + i:023d}",
            run_id=run_id(n - 30 + i),
            metrics={"auc": 0.8},
        )
    registry.set_alias(MODEL, "production", 29, actor="bench", reason="bench")
    registry.set_alias(MODEL, "production", 30, actor="bench", reason="bench")
    registry.set_alias(MODEL, "dev", 30, actor="bench", reason="bench")
    now = utc_now()
    for i in range(500):
        start = now - timedelta(hours=500 - i)
        record = store.monitoring().add_report(
            MonitoringRecord(
                id=new_id(),
                model=MODEL,
                window_start=start,
                window_end=start + timedelta(hours=1),
                created_at=start,
                num_rows=1000,
                dataset_drifted=i % 7 == 0,
                share_drifted=(i % 10) / 10,
                prediction_drift=0.1,
            )
        )
        store.monitoring().raise_alert(
            MODEL, f"rule{i % 50}", severity="warning", message="m", report_id=record.id
        )
        store.controller_state().record_event("training", "schedule", f"tick {i}")
    add_services(store, SERVICES)
    return settings


def add_services(store: Any, n: int) -> None:
    """``n`` running services of the model, each with 10 traffic changes, and ``n`` pipeline
    deployments waiting for approval (what the deployments page shows beside the aliases)."""
    from mloop.metadata.service_records import TrafficSnapshot

    uri = f"models:/{MODEL}@production"
    rows = store.deployments()
    for i in range(n):
        for generation in range(10):
            store.services().report(
                f"svc{i:03d}",
                model=MODEL,
                environment="prod",
                url=f"http://host{i}:8080",
                host=f"host{i}",
                pid=1000 + i,
                workers=4,
                model_uri=uri,
                traffic=TrafficSnapshot(
                    champion_uri=uri,
                    champion_version="30",
                    follows=uri,
                    canary_uri=f"models:/{MODEL}/{29 - generation}",
                    canary_version=str(29 - generation),
                    canary_percent=float(generation),
                    generation=generation,
                ),
                healthy=True,
                change=("traffic", "bench", f"step {generation}"),
            )
        package = rows.add_package(
            "training",
            digest=f"{i:064d}",
            uri=f"packages/{i}",
            files_digest="f" * 64,
            graph_version="g",
            code_digest="c" * 64,
            manifest={},
        )
        rows.request_deployment("prod", package, requested_by="ci", reason="r", approval="manual")


def pages(n: int) -> list[tuple[str, str]]:
    """(path, the raw SQL that page needs most: its limit); ids shortened in the table."""
    middle = run_id(n // 2)
    page_sql = "SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 50 OFFSET {offset}"
    return [
        ("/runs", page_sql.format(offset=0)),
        (f"/runs?page={n // 100}", page_sql.format(offset=(n // 100 - 1) * 50)),
        (
            "/runs?sort=metric:auc",
            "SELECT runs.* FROM runs LEFT JOIN latest_metrics lm ON lm.run_id = runs.id AND "
            "lm.key = 'auc' ORDER BY lm.value DESC NULLS LAST, runs.id DESC LIMIT 50",
        ),
        (
            f"/runs?sort=metric:auc&page={n // 100}",  # the middle page: a sort of every run
            "SELECT runs.id FROM runs LEFT JOIN latest_metrics lm ON lm.run_id = runs.id AND "
            "lm.key = 'auc' ORDER BY lm.value DESC NULLS LAST, runs.id DESC LIMIT 50 "
            f"OFFSET {n // 2 - 50}",
        ),
        (
            f"/runs?sort=metric:auc&page={n // 50}",  # the last page: walked from the end
            "SELECT runs.id FROM runs LEFT JOIN latest_metrics lm ON lm.run_id = runs.id AND "
            "lm.key = 'auc' ORDER BY lm.value DESC NULLS LAST, runs.id DESC LIMIT 50 "
            f"OFFSET {n - 50}",
        ),
        (
            "/runs?experiment=bench&state=succeeded",
            "SELECT count(*) FROM runs WHERE experiment = 'bench' AND state = 'succeeded'",
        ),
        (
            "/experiments",
            "SELECT experiment, count(*), max(started_at) FROM runs GROUP BY experiment",
        ),
        (
            f"/compare?run={run_id(1)}&run={run_id(2)}&run={middle}",
            f"SELECT * FROM metrics WHERE run_id IN ('{run_id(1)}', '{run_id(2)}', '{middle}')",
        ),
        (f"/runs/{middle}", f"SELECT * FROM executions WHERE run_id = '{middle}'"),
        (f"/runs/{middle}/state.json", f"SELECT state FROM runs WHERE id = '{middle}'"),
        (
            f"/lineage/{middle}",
            f"SELECT * FROM events WHERE execution_id = 'ex{n // 2:024d}'",
        ),
        (
            "/reports",
            "SELECT * FROM artifacts WHERE type IN ('Statistics', 'Anomalies', 'DriftReport', "
            "'Evaluation', 'Report') ORDER BY created_at DESC LIMIT 50",
        ),
        ("/models", "SELECT * FROM registered_models"),
        (f"/models/{MODEL}", f"SELECT * FROM model_versions WHERE name = '{MODEL}'"),
        (
            "/deployments",
            "SELECT * FROM services WHERE stopped_at IS NULL ORDER BY environment, model",
        ),
        (
            "/deployments/live",
            "SELECT * FROM traffic_changes ORDER BY id DESC LIMIT 50",
        ),
        (
            "/monitoring",
            "SELECT * FROM monitoring_reports ORDER BY window_end DESC LIMIT 500",
        ),
        ("/controller", "SELECT * FROM trigger_events ORDER BY created_at DESC LIMIT 200"),
    ]


async def server_ms(client: httpx.AsyncClient, path: str, repeat: int, before: Any = None) -> float:
    times = []
    for i in range(repeat + 1):
        if before is not None:
            before()
        response = await client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        if i:  # the first request warms caches and compiles templates
            times.append(float(response.headers["server-timing"].split("dur=")[1]))
    return statistics.median(times)


def raw_ms(engine: Any, sql: str, repeat: int) -> float:
    times = []
    with engine.connect() as conn:
        conn.exec_driver_sql(sql).all()
        for _ in range(repeat):
            start = time.perf_counter()
            conn.exec_driver_sql(sql).all()
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", help="measure only the pages whose path starts with this")
    args = parser.parse_args()
    from mloop.ui.app import create_app

    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        settings = build(Path(tmp), args.runs)
        console.print(f"store built in {time.perf_counter() - start:.1f} s")
        app = create_app(settings, admin_token="bench")
        engine = app.state.ui.engine

        async def measure() -> list[tuple[str, float, float]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
                found = [
                    (path, await server_ms(client, path, args.repeat), raw_ms(engine, sql, 5))
                    for path, sql in pages(args.runs)
                    if not args.only or path.startswith(args.only)
                ]
                if args.only:
                    return found
                # the run list's drop-downs are cached for 5 s; without that cache:
                path, sql = pages(args.runs)[2]
                cold = await server_ms(client, path, args.repeat, app.state.ui.forget_cached)
                found.append((path + " (drop-downs not cached)", cold, raw_ms(engine, sql, 5)))
                return found

        results = asyncio.run(measure())
    table = Table(title=f"mloop ui on {args.runs:,} runs: median server time per page")
    for col in ("page", "server ms", "limit: raw SQL ms", "budget ms", ""):
        table.add_column(col, justify="left" if col == "page" else "right")
    for path, ms, limit in results:
        shown = path.replace(run_id(args.runs // 2), "MIDDLE").replace(run_id(1), "R1")
        shown = shown.replace(run_id(2), "R2")
        verdict = "ok" if ms < BUDGET_MS else "OVER"
        table.add_row(shown, f"{ms:.1f}", f"{limit:.2f}", f"{BUDGET_MS:.0f}", verdict)
    console.print(table)
    worst = max(ms for _, ms, _ in results)
    console.print(f"slowest page: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms per page)")


if __name__ == "__main__":
    main()
