"""Metadata queries at scale: 100,000 runs with 10 params and 10 metrics each.

Each run also has one ``train`` execution that reads the previous run's model artifact and writes
its own, so lineage from a run in the middle walks a long chain (cut at ``max_depth`` = 10).
Bulk loading uses the drivers directly (sqlite3 executemany, PostgreSQL COPY); its time is
reported but is not the point. Measured, median of ``--repeat``:
  (a) ``search_runs(metric_filters=[("auc", ">", 0.8)], limit=100)``: newest 100 good runs,
      beside the same SQL written by hand and run on the driver (the limit)
  (b) ``lineage(store, middle_run)`` in both directions
Target: < 200 ms each. PostgreSQL is skipped with a message when 127.0.0.1:5432 is closed.

Run: python bench/bench_store_scale.py [--runs 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from mloop.metadata.lineage import lineage
from mloop.metadata.sql.store import SqlMetadataStore

BUDGET_MS = 200.0
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 20_000  # runs per load chunk
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
RAW_SEARCH = (  # the best hand-written form found: walk runs newest first, probe the metric
    "SELECT runs.id FROM runs WHERE EXISTS (SELECT 1 FROM latest_metrics lm WHERE"
    " lm.run_id = runs.id AND lm.key = 'auc' AND lm.value > 0.8)"
    " ORDER BY runs.started_at DESC, runs.id DESC LIMIT 100"
)


def run_id(i: int) -> str:
    return f"run{i:023d}"


def rows_for(start: int, stop: int, rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of every table for runs ``start..stop-1`` (times as aware datetimes)."""
    out: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("runs", "params", "metrics", "latest", "executions", "artifacts", "events")
    }
    for i in range(start, stop):
        rid, when = run_id(i), T0 + timedelta(seconds=i)
        out["runs"].append((rid, "bench", "succeeded", when, when, when, "{}"))
        out["params"].extend((rid, f"p{k}", str(rng.randint(0, 100))) for k in range(10))
        values = [("auc", rng.random())] + [(f"m{k}", rng.random()) for k in range(9)]
        out["metrics"].extend((rid, key, v, 0, when) for key, v in values)
        out["latest"].extend((rid, key, v, 0, when) for key, v in values)
        ex, art = f"ex{i:024d}", f"art{i:023d}"
        out["executions"].append((ex, rid, "train", "succeeded", "{}", when, when, when, 1))
        out["artifacts"].append((art, "Model", f"runs/{rid}/model", "0" * 64, 1, when, "{}"))
        out["events"].append((ex, "output", "model", art))
        if i > 0:
            out["events"].append((ex, "input", "model", f"art{i - 1:023d}"))
    return out


COLUMNS = {
    "runs": "id, experiment, state, started_at, ended_at, heartbeat_at, pipeline_params",
    "params": "run_id, key, value",
    "metrics": 'run_id, key, value, step, "timestamp"',
    "latest": 'run_id, key, value, step, "timestamp"',
    "executions": (
        "id, run_id, step_name, state, params, created_at, started_at, ended_at, attempts"
    ),
    "artifacts": "id, type, uri, digest, size, created_at, properties",
    "events": "execution_id, kind, name, artifact_id",
}
TABLES = {"latest": "latest_metrics"}


def chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


def load_sqlite(store: SqlMetadataStore, n: int) -> None:
    rng = random.Random(7)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        for start, stop in chunks(n):
            for name, rows in rows_for(start, stop, rng).items():
                cols = COLUMNS[name]
                marks = ", ".join("?" * (cols.count(",") + 1))
                text_rows = [
                    tuple(
                        v.replace(tzinfo=None).isoformat(" ", "microseconds")
                        if isinstance(v, datetime)
                        else v
                        for v in row
                    )
                    for row in rows
                ]
                table = TABLES.get(name, name)
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", text_rows)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()


def load_postgres(store: SqlMetadataStore, n: int) -> None:
    rng = random.Random(7)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for start, stop in chunks(n):
            for name, rows in rows_for(start, stop, rng).items():
                table = TABLES.get(name, name)
                with cur.copy(f"COPY {table} ({COLUMNS[name]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(name: str, url: str, n: int, repeat: int) -> list[tuple[str, str, str, str]]:
    store = SqlMetadataStore.open(url)
    start = time.perf_counter()
    (load_sqlite if name == "sqlite" else load_postgres)(store, n)
    load_s = time.perf_counter() - start
    middle = run_id(n // 2)

    def search() -> list[Any]:
        return store.search_runs(metric_filters=[("auc", ">", 0.8)], limit=100)

    def raw_search() -> list[Any]:
        with store.engine.connect() as conn:
            return conn.exec_driver_sql(RAW_SEARCH).all()

    found, expected = [r.id for r in search()], [r[0] for r in raw_search()]
    assert found == expected and len(found) == min(100, n), "search and raw SQL disagree"
    tree = lineage(store, middle)
    assert tree.children, "the middle run has no lineage"
    raw_ms, search_ms = median_ms(raw_search, repeat), median_ms(search, repeat)
    lineage_ms = median_ms(lambda: lineage(store, middle), repeat)
    store.close()
    return [
        (name, "bulk load (not budgeted)", f"{load_s * 1000:,.0f}", ""),
        (name, "raw SQL search (limit)", f"{raw_ms:.1f}", "1.00"),
        (name, "(a) search auc > 0.8, newest 100", f"{search_ms:.1f}", f"{search_ms / raw_ms:.2f}"),
        (name, "(b) lineage of the middle run", f"{lineage_ms:.1f}", ""),
    ]


def postgres_url() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1.0):
            pass
    except OSError:
        return None
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS bench_scale CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA bench_scale"))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3Dbench_scale"


def drop_pg_schema() -> None:
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS bench_scale CASCADE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += measure("sqlite", f"sqlite:///{Path(tmp) / 'scale.db'}", args.runs, args.repeat)
    pg = postgres_url()
    if pg is None:
        console.print("PostgreSQL is not reachable on 127.0.0.1:5432: skipped")
    else:
        try:
            results += measure("postgresql", pg, args.runs, args.repeat)
        finally:
            drop_pg_schema()
    table = Table(title=f"metadata store at scale: {args.runs:,} runs x (10 params + 10 metrics)")
    for col in ("backend", "query", "median ms", "ratio to raw"):
        table.add_column(col, justify="left" if col in ("backend", "query") else "right")
    for row in results:
        table.add_row(*row)
    console.print(table)
    console.print(f"budget: (a) and (b) < {BUDGET_MS:.0f} ms each")


if __name__ == "__main__":
    main()
