"""Feature store hot paths, each beside the fastest honest way to do the same work ("limit").

1. Offline retrieval: 1M entity rows x 3 views (100k entities, 90 days of events, 5 features a
   view, ttl 30 days) with ``get_historical_features(...).to_arrow()`` beside a hand-written
   DuckDB query (three ASOF LEFT JOINs, the ttl as CASE, ORDER BY input row). Budget 1.5x, and
   the results must be equal.
2. Online reads of 20 features for 1 and 100 entities, p50/p99 over 2,000 calls, through
   ``get_online_features`` (SQLite and Redis) beside a raw ``sqlite3`` SELECT on a 20-column
   table and a raw ``HMGET`` (pipelined for 100). Budget: p50 within 2x (1) and 3x (100).
   Then 3 views x 5 features from Redis (one pipelined round trip per call) beside a raw
   pipeline of the same HMGETs. Ours and the limit are timed interleaved, so that a busy
   machine slows both alike.
3. Materialization of a 20-feature view (100k entities, 1M rows) beside a DuckDB
   latest-per-entity query + one ``executemany`` into SQLite / pipelined ``HSET`` into Redis.
   Budget 2x.

Data is generated at bench time in a temporary folder. ``--small`` divides the sizes by 10 and
runs fewer repeats. Redis is used at ``--redis-url`` (skipped when unreachable).

Run: python bench/bench_features.py [--small] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from mloop.features import Entity, FeatureView, Field, FileSource, Float64
from mloop.features.online_stores.redis import RedisOnlineStore
from mloop.features.store import FeatureStore

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAYS = 90
TTL = timedelta(days=30)
console = Console(width=160)


def timed(
    ours: Callable[[], Any], limit: Callable[[], Any], repeat: int
) -> tuple[tuple[float, Any], tuple[float, Any]]:
    """Median wall seconds of ``ours`` and of ``limit`` over ``repeat`` runs each (after one
    warm-up each), with their last results. The runs alternate (in alternating order), so
    that a busy machine slows both alike."""
    results = [ours(), limit()]
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        pair = ((0, ours), (1, limit)) if i % 2 == 0 else ((1, limit), (0, ours))
        for slot, fn in pair:
            start = time.perf_counter()
            results[slot] = fn()
            times[slot].append(time.perf_counter() - start)
    return (
        (statistics.median(times[0]), results[0]),
        (statistics.median(times[1]), results[1]),
    )


def latencies(
    ours: Callable[[int], Any], limit: Callable[[int], Any], calls: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p99 (microseconds) of ``ours(i)`` and ``limit(i)`` over ``calls`` calls each,
    after 100 warm-up calls. The two are interleaved (in alternating order), so that a busy
    machine slows both alike and the ratio stays meaningful."""
    for i in range(100):
        ours(i)
        limit(i)
    samples: tuple[list[int], list[int]] = ([], [])
    clock = time.perf_counter_ns
    for i in range(calls):
        pair = ((0, ours), (1, limit)) if i % 2 == 0 else ((1, limit), (0, ours))
        for slot, fn in pair:
            start = clock()
            fn(i)
            samples[slot].append(clock() - start)

    def p50_p99(values: list[int]) -> tuple[float, float]:
        values.sort()
        return values[len(values) // 2] / 1000, values[int(len(values) * 0.99)] / 1000

    return p50_p99(samples[0]), p50_p99(samples[1])


def feature_table(rng: np.random.Generator, entities: int, rows: int, names: list[str]) -> pa.Table:
    ids = rng.integers(0, entities, rows)
    seconds = rng.integers(0, DAYS * 86400, rows)
    ts = (np.datetime64(T0.replace(tzinfo=None), "us") + seconds.astype("timedelta64[s]")).astype(
        "datetime64[us]"
    )
    columns: dict[str, Any] = {
        "entity_id": pa.array(ids, pa.int64()),
        "event_timestamp": pa.array(ts),
    }
    for name in names:
        columns[name] = pa.array(rng.random(rows))
    return pa.table(columns)


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1.0):
            return True
    except OSError:
        return False


# -- 1. offline ------------------------------------------------------------------------------
def reference_query(entity: str, sources: list[str], features: list[list[str]]) -> str:
    ttl_us = int(TTL.total_seconds() * 1_000_000)
    ctes = [f"e AS (SELECT * FROM {entity})"]
    selects = ["e.entity_id", "e.event_timestamp"]
    joins = []
    for i, (source, feats) in enumerate(zip(sources, features, strict=True)):
        ctes.append(
            f"f{i} AS (SELECT entity_id, event_timestamp AS ts, {', '.join(feats)} FROM {source})"
        )
        joins.append(
            f"ASOF LEFT JOIN f{i} ON e.entity_id = f{i}.entity_id AND e.event_timestamp >= f{i}.ts"
        )
        for f in feats:
            selects.append(
                f"CASE WHEN f{i}.ts >= e.event_timestamp - to_microseconds({ttl_us}) "
                f"THEN f{i}.{f} END AS {f}"
            )
    return (
        f"WITH {', '.join(ctes)} SELECT {', '.join(selects)} FROM e {' '.join(joins)} "
        "ORDER BY e.row_id"
    )


def bench_offline(folder: Path, scale: int, repeat: int, rows: list[list[str]]) -> None:
    rng = np.random.default_rng(0)
    entities, entity_rows, view_rows = 100_000 // scale, 1_000_000 // scale, 1_000_000 // scale
    entity = Entity("entity", join_keys=["entity_id"])
    views, paths, features = [], [], []
    for v in range(3):
        names = [f"v{v}_f{i}" for i in range(5)]
        path = folder / f"view{v}.parquet"
        pq.write_table(feature_table(rng, entities, view_rows, names), path)
        views.append(
            FeatureView(
                f"view{v}",
                [entity],
                [Field(n, Float64) for n in names],
                FileSource(str(path)),
                ttl=TTL,
            )
        )
        paths.append(path)
        features.append(names)
    seconds = rng.integers(0, DAYS * 86400, entity_rows)
    entity_df = pa.table(
        {
            "entity_id": pa.array(rng.integers(0, entities, entity_rows), pa.int64()),
            "event_timestamp": pa.array(
                (
                    np.datetime64(T0.replace(tzinfo=None), "us") + seconds.astype("timedelta64[s]")
                ).astype("datetime64[us]")
            ),
        }
    )
    store = FeatureStore(folder, metadata_url=f"sqlite:///{folder / 'meta.db'}")
    store.apply(views)
    refs = [f"view{v}:{n}" for v in range(3) for n in features[v]]

    def ours() -> pa.Table:
        return store.get_historical_features(entity_df, refs).to_arrow()

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def limit() -> pa.Table:
        with_ids = entity_df.append_column("row_id", pa.array(np.arange(entity_df.num_rows)))
        con.register("entity_rows", with_ids)
        sources = [f"read_parquet('{p}')" for p in paths]
        return con.sql(reference_query("entity_rows", sources, features)).to_arrow_table()

    (our_s, got), (ref_s, ref) = timed(ours, limit, repeat)
    exact = got.num_rows == entity_df.num_rows and got.equals(ref.cast(got.schema))
    nulls = got.column(refs[0].split(":")[1]).null_count
    rows.append(
        [
            f"offline: {entity_rows:,} rows x 3 views "
            f"({entities:,} entities, {view_rows:,} rows/view)",
            f"{our_s * 1000:.0f} ms",
            f"{ref_s * 1000:.0f} ms",
            f"{our_s / ref_s:.2f}x",
            "1.5x",
            f"exact={exact}, null rows {nulls:,}",
        ]
    )
    store.close()


# -- 2 and 3. online -------------------------------------------------------------------------
def online_view(
    folder: Path, rng: np.random.Generator, entities: int, rows: int
) -> tuple[FeatureView, list[str], Path]:
    names = [f"f{i}" for i in range(20)]
    path = folder / "online_view.parquet"
    table = feature_table(rng, entities, rows, names)
    # every entity has at least one row, and the newest ones are recent (online ttl is 30 days)
    recent = pa.table(
        {
            "entity_id": pa.array(np.arange(entities), pa.int64()),
            "event_timestamp": pa.array(
                [datetime.now(timezone.utc).replace(tzinfo=None)] * entities, pa.timestamp("us")
            ),
            **{n: pa.array(rng.random(entities)) for n in names},
        }
    )
    pq.write_table(pa.concat_tables([table, recent]), path)
    view = FeatureView(
        "online",
        [Entity("entity", join_keys=["entity_id"])],
        [Field(n, Float64) for n in names],
        FileSource(str(path)),
        ttl=TTL,
    )
    return view, names, path


def latest_rows(path: Path, names: list[str]) -> list[tuple]:
    con = duckdb.connect()
    query = (
        f"SELECT entity_id, {', '.join(names)} FROM read_parquet('{path}') "
        "QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY event_timestamp DESC) = 1"
    )
    return con.sql(query).fetchall()


def sqlite_limits(
    folder: Path, path: Path, names: list[str], one: list, hundred: list
) -> tuple[Callable[[], None], Callable[[int], Any], Callable[[int], Any]]:
    """Raw sqlite3: a 20-column table, one executemany in one transaction, plain SELECTs."""
    ref_db = sqlite3.connect(folder / f"ref-{time.time_ns()}.db", isolation_level=None)
    ref_db.execute("PRAGMA journal_mode = WAL")
    ref_db.execute("PRAGMA synchronous = NORMAL")
    cols = ", ".join(f"{n} REAL" for n in names)
    ref_db.execute(f"CREATE TABLE t (entity_id INTEGER PRIMARY KEY, {cols})")
    insert = f"INSERT OR REPLACE INTO t VALUES ({', '.join('?' * (len(names) + 1))})"
    select_one = f"SELECT {', '.join(names)} FROM t WHERE entity_id = ?"
    select_many = f"SELECT entity_id, {', '.join(names)} FROM t WHERE entity_id IN ({{}})"

    def materialize() -> None:
        data = latest_rows(path, names)
        ref_db.execute("BEGIN")
        ref_db.executemany(insert, data)
        ref_db.execute("COMMIT")

    def read_one(i: int) -> Any:
        return ref_db.execute(select_one, (one[i][0]["entity_id"],)).fetchall()

    def read_hundred(i: int) -> Any:
        keys = [r["entity_id"] for r in hundred[i]]
        return ref_db.execute(select_many.format(",".join("?" * len(keys))), keys).fetchall()

    return materialize, read_one, read_hundred


def redis_limits(
    client: Any, prefix: str, path: Path, names: list[str], one: list, hundred: list
) -> tuple[Callable[[], None], Callable[[int], Any], Callable[[int], Any]]:
    """Raw redis-py: pipelined HSET of each entity's hash, HMGET (pipelined for 100)."""
    fields = [n.encode() for n in names]

    def materialize() -> None:
        data = latest_rows(path, names)
        for start in range(0, len(data), 2000):
            pipe = client.pipeline(transaction=False)
            for row in data[start : start + 2000]:
                pipe.hset(f"{prefix}:{row[0]}", mapping=dict(zip(names, row[1:], strict=True)))
            pipe.execute()

    def read_one(i: int) -> Any:
        return client.hmget(f"{prefix}:{one[i][0]['entity_id']}", fields)

    def read_hundred(i: int) -> Any:
        pipe = client.pipeline(transaction=False)
        for r in hundred[i]:
            pipe.hmget(f"{prefix}:{r['entity_id']}", fields)
        return pipe.execute()

    return materialize, read_one, read_hundred


def bench_online(
    folder: Path, scale: int, repeat: int, calls: int, redis_url: str | None, rows: list[list[str]]
) -> None:
    rng = np.random.default_rng(1)
    entities, view_rows = 100_000 // scale, 1_000_000 // scale
    view, names, path = online_view(folder, rng, entities, view_rows)
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    refs = [f"online:{n}" for n in names]
    one = [[{"entity_id": int(k)}] for k in rng.integers(0, entities, calls + 100)]
    hundred = [
        [{"entity_id": int(k)} for k in rng.integers(0, entities, 100)] for _ in range(calls + 100)
    ]

    backends: list[tuple[str, Any]] = [("sqlite", None)]
    if redis_url and redis_reachable(redis_url):
        backends.append(("redis", RedisOnlineStore(redis_url, namespace=f"bench{time.time_ns()}")))
    else:
        console.print(f"[yellow]Redis not reachable at {redis_url}: redis rows skipped[/]")
    for name, online in backends:
        store = FeatureStore(
            folder,
            online_store=online
            or {"type": "sqlite", "path": str(folder / f"online-{time.time_ns()}.db")},
            metadata_url=f"sqlite:///{folder / 'meta.db'}",
        )
        store.apply([view])
        store.online_store.delete_view("online")

        # 3. materialization, ours vs the limit
        if name == "sqlite":
            limit_materialize, limit_one, limit_hundred = sqlite_limits(
                folder, path, names, one, hundred
            )
        else:
            client = online.client
            prefix = f"ref{time.time_ns()}"
            limit_materialize, limit_one, limit_hundred = redis_limits(
                client, prefix, path, names, one, hundred
            )

        (our_s, _), (ref_s, _) = timed(
            lambda store=store: store.materialize(T0, end, ["online"]), limit_materialize, repeat
        )
        rows.append(
            [
                f"materialize {entities:,} entities x 20 features ({name})",
                f"{our_s * 1000:.0f} ms",
                f"{ref_s * 1000:.0f} ms",
                f"{our_s / ref_s:.2f}x",
                "2x",
                "DuckDB latest + " + ("executemany" if name == "sqlite" else "pipelined HSET"),
            ]
        )

        def ours_one(i: int, store: FeatureStore = store) -> Any:
            return store.get_online_features(refs, one[i]).to_dict()

        def ours_hundred(i: int, store: FeatureStore = store) -> Any:
            return store.get_online_features(refs, hundred[i]).to_dict()

        check = store.get_online_features(refs, one[0])
        assert check.statuses["f0"][0].value == "present", check.statuses
        for label, ours, limit, budget in (
            ("1 entity", ours_one, limit_one, 2.0),
            ("100 entities", ours_hundred, limit_hundred, 3.0),
        ):
            (our_p50, our_p99), (ref_p50, ref_p99) = latencies(ours, limit, calls)
            rows.append(
                [
                    f"online read {label} x 20 features ({name})",
                    f"p50 {our_p50:.0f} us / p99 {our_p99:.0f} us",
                    f"p50 {ref_p50:.0f} us / p99 {ref_p99:.0f} us",
                    f"{our_p50 / ref_p50:.2f}x",
                    f"{budget:.0f}x",
                    f"{calls:,} calls",
                ]
            )
        if name == "redis":
            store.online_store.delete_view("online")
            for key in client.scan_iter(match=f"{prefix}:*", count=5000):
                client.delete(key)
        store.close()


def bench_three_views(
    folder: Path, scale: int, calls: int, redis_url: str | None, rows: list[list[str]]
) -> None:
    """Online reads of 3 views x 5 features from Redis: one pipelined round trip per call
    (``read_views``) beside a raw pipeline of the same HMGETs."""
    if not (redis_url and redis_reachable(redis_url)):
        return
    rng = np.random.default_rng(2)
    entities = 100_000 // scale
    entity = Entity("entity", join_keys=["entity_id"])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    views, names = [], []
    for v in range(3):
        features = [f"v{v}_f{i}" for i in range(5)]
        path = folder / f"three{v}.parquet"
        pq.write_table(
            pa.table(
                {
                    "entity_id": pa.array(np.arange(entities), pa.int64()),
                    "event_timestamp": pa.array([now] * entities, pa.timestamp("us")),
                    **{f: pa.array(rng.random(entities)) for f in features},
                }
            ),
            path,
        )
        views.append(
            FeatureView(
                f"three{v}",
                [entity],
                [Field(f, Float64) for f in features],
                FileSource(str(path)),
                ttl=TTL,
            )
        )
        names.append(features)
    online = RedisOnlineStore(redis_url, namespace=f"bench3v{time.time_ns()}")
    store = FeatureStore(folder, online_store=online, metadata_url=f"sqlite:///{folder / 'm3.db'}")
    store.apply(views)
    store.materialize(T0, datetime.now(timezone.utc) + timedelta(minutes=1))
    refs = [f"three{v}:{f}" for v in range(3) for f in names[v]]
    one = [[{"entity_id": int(k)}] for k in rng.integers(0, entities, calls + 100)]
    hundred = [
        [{"entity_id": int(k)} for k in rng.integers(0, entities, 100)] for _ in range(calls + 100)
    ]
    client = online.client
    fields = [[f.encode() for f in features] + [b"_ts"] for features in names]

    def raw(batch: list[dict[str, int]]) -> Any:
        pipe = client.pipeline(transaction=False)
        for v in range(3):
            for r in batch:
                pipe.hmget(f"{online.namespace}:three{v}:{r['entity_id']}", fields[v])
        return pipe.execute()

    for label, batches, budget in (("1 entity", one, 2.0), ("100 entities", hundred, 3.0)):
        (our_p50, our_p99), (ref_p50, ref_p99) = latencies(
            lambda i, b=batches: store.get_online_features(refs, b[i]).to_dict(),
            lambda i, b=batches: raw(b[i]),
            calls,
        )
        rows.append(
            [
                f"online read {label} x 3 views x 5 features (redis)",
                f"p50 {our_p50:.0f} us / p99 {our_p99:.0f} us",
                f"p50 {ref_p50:.0f} us / p99 {ref_p99:.0f} us",
                f"{our_p50 / ref_p50:.2f}x",
                f"{budget:.0f}x",
                "limit: one pipeline of the 3 views' HMGETs",
            ]
        )
    for v in range(3):
        online.delete_view(f"three{v}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="Sizes / 10, fewer repeats.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--skip-offline", action="store_true")
    args = parser.parse_args()
    scale, repeat, calls = (10, 3, 2000) if args.small else (1, 3, 2000)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_offline:
            bench_offline(folder, scale, repeat, rows)
        bench_online(folder, scale, repeat, calls, args.redis_url, rows)
        bench_three_views(folder, scale, calls, args.redis_url, rows)
    table = Table(title="feature store: mloop beside the limit (median; ratio = mloop / limit)")
    for column in ("case", "mloop", "limit", "ratio", "budget", "notes"):
        table.add_column(column, justify="left" if column in ("case", "notes") else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
