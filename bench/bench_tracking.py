"""Tracking writes: 100 params and 10,000 metric values on SQLite, beside raw sqlite3 (the limit).

Budget (DESIGN.md): logging 10,000 metric values within 5x of raw sqlite3 inserts of the same rows
in one transaction (same WAL / synchronous=NORMAL settings). Rows measured:
  (i)   fluent ``mloop.log_metrics({"m": v}, step=i)``, one call per value (buffered, 1,000/flush)
  (ii)  fluent ``mloop.log_metrics`` with 1,000 keys per call (10 calls)
  (iii) ``store.log_metrics`` with one value per call: a transaction per value (no buffer), on
        1,000 values, scaled to 10,000: what the buffer saves
Also: opening a fresh store (create tables + stamp the revision; target < 0.5 s) and running the
Alembic chain on an empty database. Medians over ``--repeat`` repetitions, in milliseconds.

Also: 1,000 tracking runs (start_run, 3 params, 3 metrics, end) against raw sqlite3 writing
the same rows in one transaction (budget: within 10x), written synchronously (3 transactions
per run, beside its floor: raw sqlite3 committing the same 3 transactions a run on mloop's own
schema) and with async logging (write-behind, timed until ``mloop.flush()`` returns, so every
row is committed), and a 490-hit ``search_runs`` that returns params and latest metrics against
the same three reads by hand. ``--postgres URL`` adds both run-creation rows on PostgreSQL
(``psycopg`` inserting the same rows in one transaction is their limit).

Run: python bench/bench_tracking.py [--repeat 5] [--postgres postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

import mloop
from mloop._utils.clock import utc_now
from mloop._utils.ids import new_ids
from mloop.metadata.entities import Metric
from mloop.metadata.sql import migrate
from mloop.metadata.sql.store import SqlMetadataStore

N_PARAMS = 100
N_VALUES = 10_000
UNBUFFERED_SAMPLE = 1_000
BUDGET_RATIO = 5.0
FRESH_BUDGET_S = 0.5


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def raw_sqlite(folder: Path) -> Callable[[], None]:
    """The limit: the same rows through sqlite3, one transaction, same pragmas and index."""
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT, execution_id TEXT, key TEXT,"
        " value REAL, step INTEGER, timestamp TEXT)"
    )
    conn.execute("CREATE INDEX ix ON metrics (run_id, key, step)")
    conn.execute(
        "CREATE TABLE params (run_id TEXT, key TEXT, value TEXT, PRIMARY KEY (run_id, key))"
    )
    counter = iter(range(10**9))

    def run() -> None:
        run_id = f"run{next(counter)}"
        now = utc_now().strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO params VALUES (?, ?, ?)",
            [(run_id, f"p{i}", str(i)) for i in range(N_PARAMS)],
        )
        conn.executemany(
            "INSERT INTO metrics (run_id, execution_id, key, value, step, timestamp)"
            " VALUES (?, NULL, 'm', ?, ?, ?)",
            [(run_id, i / N_VALUES, i, now) for i in range(N_VALUES)],
        )
        conn.execute("COMMIT")

    return run


def fluent_per_value(store: SqlMetadataStore) -> None:
    with mloop.start_run("bench", store=store):
        mloop.log_params({f"p{i}": i for i in range(N_PARAMS)})
        for i in range(N_VALUES):
            mloop.log_metrics({"m": i / N_VALUES}, step=i)


def fluent_batched(store: SqlMetadataStore) -> None:
    with mloop.start_run("bench", store=store):
        mloop.log_params({f"p{i}": i for i in range(N_PARAMS)})
        per_call = 1_000
        for step in range(N_VALUES // per_call):
            mloop.log_metrics({f"m{k}": k / per_call for k in range(per_call)}, step=step)


def unbuffered_sample(store: SqlMetadataStore) -> None:
    run = store.create_run("bench")
    for i in range(UNBUFFERED_SAMPLE):
        store.log_metrics(run.id, [Metric("m", i / UNBUFFERED_SAMPLE, i)])


def fresh_store(folder: Path) -> Callable[[], None]:
    counter = iter(range(10**9))

    def run() -> None:
        SqlMetadataStore.open(f"sqlite:///{folder / f'fresh{next(counter)}.db'}").close()

    return run


def alembic_chain(folder: Path) -> Callable[[], None]:
    counter = iter(range(10**9))

    def run() -> None:
        migrate.upgrade(f"sqlite:///{folder / f'chain{next(counter)}.db'}")

    return run


N_RUNS = 1_000
N_HITS = 490
RUNS_BUDGET_RATIO = 10.0


def raw_runs(folder: Path) -> Callable[[], None]:
    """The limit for run creation: 1,000 runs (a row, 3 params, 3 metrics, the end) through
    sqlite3 in one transaction, as the MLflow-comparison adapter measured it."""
    conn = sqlite3.connect(folder / "raw_runs.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, experiment TEXT, state TEXT, started TEXT,"
        " ended TEXT)"
    )
    conn.execute(
        "CREATE TABLE params (run_id TEXT, key TEXT, value TEXT, PRIMARY KEY (run_id, key))"
    )
    conn.execute("CREATE TABLE metrics (run_id TEXT, key TEXT, value REAL, step INTEGER, ts TEXT)")
    counter = iter(range(10**9))

    def run() -> None:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(N_RUNS):
            rid = f"r{next(counter)}"
            now = utc_now().isoformat()
            conn.execute("INSERT INTO runs VALUES (?, 'bench', 'running', ?, NULL)", (rid, now))
            conn.executemany(
                "INSERT INTO params VALUES (?, ?, ?)", [(rid, f"p{i}", str(i)) for i in range(3)]
            )
            conn.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, 0, ?)",
                [(rid, f"m{i}", i / 3, now) for i in range(3)],
            )
            conn.execute("UPDATE runs SET state = 'succeeded', ended = ? WHERE id = ?", (now, rid))
        conn.execute("COMMIT")

    return run


def raw_runs_per_call(folder: Path, name: str = "raw_per_call") -> Callable[[], None]:
    """The floor of any synchronous path: the same 1,000 runs through sqlite3 on mloop's own
    schema (its indexes and foreign keys), committed as the calls are (3 transactions a run:
    start, params, end with the metrics), so each call's rows are durable when it returns."""
    path = folder / f"{name}.db"
    SqlMetadataStore.open(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")

    def run() -> None:
        for rid in new_ids(N_RUNS):  # random ids, as mloop's (index pages touched: the same)
            now = utc_now().replace(tzinfo=None).isoformat(" ", "microseconds")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO runs (id, experiment, state, started_at, pipeline_params)"
                " VALUES (?, 'bench', 'running', ?, '{}')",
                (rid, now),
            )
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO params VALUES (?, ?, ?)", [(rid, f"p{i}", str(i)) for i in range(3)]
            )
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            metrics = [(rid, f"m{i}", i / 3, 0, now) for i in range(3)]
            conn.executemany(
                "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)",
                metrics,
            )
            conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)", metrics)
            conn.execute(
                "UPDATE runs SET state = 'succeeded', ended_at = ? WHERE id = ?", (now, rid)
            )
            conn.execute("COMMIT")

    return run


def fluent_runs(store: SqlMetadataStore, async_logging: bool = False) -> None:
    for i in range(N_RUNS):
        with mloop.start_run("runs", store=store, async_logging=async_logging):
            mloop.log_params({"p0": i, "p1": "a", "p2": 0.5})
            mloop.log_metrics({"m0": 0.1, "m1": 0.2, "m2": 0.3})
    if async_logging:
        mloop.flush()  # timed until every row is committed


def raw_postgres_runs(url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The PostgreSQL limit: the same rows through psycopg in one transaction, one
    ``executemany`` per statement (pipelined), in tables of its own."""
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql", 1))
    conn.execute(
        "CREATE TABLE bench_runs (id TEXT PRIMARY KEY, experiment TEXT, state TEXT,"
        " started TIMESTAMPTZ, ended TIMESTAMPTZ)"
    )
    conn.execute(
        "CREATE TABLE bench_params (run_id TEXT, key TEXT, value TEXT, PRIMARY KEY (run_id, key))"
    )
    conn.execute(
        "CREATE TABLE bench_metrics (run_id TEXT, key TEXT, value REAL, step INT, ts TIMESTAMPTZ)"
    )
    conn.commit()
    counter = iter(range(10**9))

    def run() -> None:
        runs, params, metrics, ends = [], [], [], []
        for _ in range(N_RUNS):
            rid, now = f"r{next(counter)}", utc_now()
            runs.append((rid, now))
            params += [(rid, f"p{i}", str(i)) for i in range(3)]
            metrics += [(rid, f"m{i}", i / 3, now) for i in range(3)]
            ends.append((now, rid))
        with conn.cursor() as cur:  # one transaction, one executemany per statement
            cur.executemany(
                "INSERT INTO bench_runs VALUES (%s, 'bench', 'running', %s, NULL)", runs
            )
            cur.executemany("INSERT INTO bench_params VALUES (%s, %s, %s)", params)
            cur.executemany("INSERT INTO bench_metrics VALUES (%s, %s, %s, 0, %s)", metrics)
            cur.executemany(
                "UPDATE bench_runs SET state = 'succeeded', ended = %s WHERE id = %s", ends
            )
        conn.commit()

    def drop() -> None:
        for table in ("bench_runs", "bench_params", "bench_metrics"):
            conn.execute(f"DROP TABLE {table}")
        conn.commit()
        conn.close()

    return run, drop


def postgres_rows(url: str, repeat: int) -> list[tuple[str, float, float]]:
    """(case, median ms, its limit ms) of run creation on PostgreSQL, in a schema of its own."""
    import sqlalchemy as sa

    from mloop._utils.ids import new_id

    schema = f"bench_{new_id()[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        store = SqlMetadataStore.open(scoped)
        raw, drop = raw_postgres_runs(scoped)
        fluent_runs(store, async_logging=True)  # warm-up
        limit = median_ms(raw, repeat)
        sync = median_ms(lambda: fluent_runs(store), max(1, repeat // 2))
        async_ = median_ms(lambda: fluent_runs(store, async_logging=True), repeat)
        drop()
        store.close()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return [("PostgreSQL: sync", sync, limit), ("PostgreSQL: async logging", async_, limit)]


def search_setup(folder: Path) -> tuple[SqlMetadataStore, sqlite3.Connection]:
    store = SqlMetadataStore.open(f"sqlite:///{folder / 'search.db'}")
    for i in range(N_HITS):
        with mloop.start_run("hits", store=store):
            mloop.log_params({"i": i, "kind": "x"})
            mloop.log_metrics({"auc": i / N_HITS, "loss": 1 - i / N_HITS})
    return store, sqlite3.connect(folder / "search.db")


def raw_search(conn: sqlite3.Connection) -> None:
    """The limit for search: the same three reads (runs, params, latest metrics) by hand."""
    ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE experiment = 'hits'")]
    marks = ",".join("?" * len(ids))
    conn.execute(f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", ids).fetchall()
    conn.execute(
        f"SELECT run_id, key, value FROM latest_metrics WHERE run_id IN ({marks})", ids
    ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL for the runs rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = SqlMetadataStore.open(f"sqlite:///{folder / 'mloop.db'}")
        fluent_per_value(store)  # warm-up: imports, statement caches
        raw = median_ms(raw_sqlite(folder), args.repeat)
        per_value = median_ms(lambda: fluent_per_value(store), args.repeat)
        batched = median_ms(lambda: fluent_batched(store), args.repeat)
        unbuffered = median_ms(lambda: unbuffered_sample(store), 1) * N_VALUES / UNBUFFERED_SAMPLE
        fresh = median_ms(fresh_store(folder), args.repeat)
        chain = median_ms(alembic_chain(folder), args.repeat)
        fluent_runs(store, async_logging=True)  # warm-up: the writer thread, its statements
        raw_1000 = median_ms(raw_runs(folder), args.repeat)
        per_call = raw_runs_per_call(folder)
        floor_1000 = median_ms(per_call, max(1, args.repeat // 2))
        runs_1000 = median_ms(lambda: fluent_runs(store), max(1, args.repeat // 2))
        async_1000 = median_ms(lambda: fluent_runs(store, async_logging=True), args.repeat)
        store.close()
        from mloop.tracking import TrackingClient

        search_store, search_conn = search_setup(folder)
        client = TrackingClient(search_store)
        hits = median_ms(lambda: client.search_runs("hits", limit=N_HITS), args.repeat)
        raw_hits = median_ms(lambda: raw_search(search_conn), args.repeat)
        search_store.close()

    table = Table(title=f"tracking: {N_PARAMS} params + {N_VALUES:,} metric values (SQLite)")
    for col in ("case", "median ms", "ratio to raw", "budget"):
        table.add_column(col, justify="right" if col != "case" else "left")
    table.add_row("raw sqlite3, one transaction (limit)", f"{raw:.1f}", "1.00", "")
    for name, value in (
        ("(i) log_metrics per value, buffered", per_value),
        ("(ii) log_metrics 1,000 keys per call", batched),
        ("(iii) a transaction per value (scaled)", unbuffered),
    ):
        budget = f"<= {BUDGET_RATIO:.0f}x" if not name.startswith("(iii)") else "(reference)"
        table.add_row(name, f"{value:.1f}", f"{value / raw:.2f}", budget)
    table.add_row(
        "fresh store: create + stamp", f"{fresh:.1f}", "", f"< {FRESH_BUDGET_S * 1000:.0f}"
    )
    table.add_row("fresh store: Alembic chain", f"{chain:.1f}", "", "(reference)")
    Console(width=120).print(table)

    runs_table = Table(
        title=f"{N_RUNS:,} runs (3 params, 3 metrics each) and a {N_HITS}-hit search"
    )
    for col in ("case", "median ms", "ratio to its limit", "budget"):
        runs_table.add_column(col, justify="right" if col != "case" else "left")
    runs_table.add_row("raw sqlite3, one transaction (limit)", f"{raw_1000:.1f}", "1.00", "")
    runs_table.add_row(
        "raw sqlite3, mloop schema, 3 commits a run (sync floor)",
        f"{floor_1000:.1f}",
        f"{floor_1000 / raw_1000:.1f}",
        "(reference)",
    )
    runs_table.add_row(
        "start_run + log_params + log_metrics + end: sync",
        f"{runs_1000:.1f}",
        f"{runs_1000 / raw_1000:.1f} ({runs_1000 / floor_1000:.1f} x floor)",
        "(3 commits a run)",
    )
    runs_table.add_row(
        "the same with async logging, until flushed",
        f"{async_1000:.1f}",
        f"{async_1000 / raw_1000:.1f}",
        f"<= {RUNS_BUDGET_RATIO:.0f}x",
    )
    for name, value, limit in postgres_rows(args.postgres, args.repeat) if args.postgres else []:
        runs_table.add_row(
            f"{name} (limit: psycopg {limit:.1f} ms)", f"{value:.1f}", f"{value / limit:.1f}", ""
        )
    runs_table.add_row("raw: runs, params, latest metrics (limit)", f"{raw_hits:.1f}", "1.00", "")
    runs_table.add_row(
        "search_runs with params + metrics", f"{hits:.1f}", f"{hits / raw_hits:.1f}", "no N+1"
    )
    Console(width=120).print(runs_table)


if __name__ == "__main__":
    main()
