"""What hiredis buys the Redis online store: the same reads with redis-py's two reply parsers.

In one process, on the same keys, interleaved call by call (so a busy machine slows every case
alike): ``get_online_features`` of 20 features for 1 and 100 entities through a client with
redis-py's pure-Python parser and through one with hiredis (``mloop[redis]`` installs it), each
beside the raw HMGET (pipelined for 100) with the same parser. p50 in microseconds.

Run: python bench/bench_redis_parser.py [--redis-url redis://127.0.0.1:6379/15] [--calls 1500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import redis
from redis._parsers import _HiredisParser, _RESP2Parser
from rich.console import Console
from rich.table import Table

from mloop.features import Entity, FeatureView, Field, FileSource, Float64
from mloop.features.online_stores.redis import _WRITE_IF_NEWER, RedisOnlineStore
from mloop.features.store import FeatureStore

ENTITIES = 10_000
NAMES = [f"f{i}" for i in range(20)]


def store_with(parser: type, url: str, namespace: str, folder: Path) -> FeatureStore:
    """A FeatureStore whose Redis client uses ``parser``."""
    online = RedisOnlineStore(url, namespace=namespace)
    online._client = redis.Redis.from_url(url, parser_class=parser)
    online._script = online._client.register_script(_WRITE_IF_NEWER)
    return FeatureStore(folder, online_store=online, metadata_url=f"sqlite:///{folder / 'm.db'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    namespace = f"bench-parser-{time.time_ns()}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        columns = {n: pa.array(rng.random(ENTITIES)) for n in NAMES}
        pq.write_table(
            pa.table(
                {
                    "entity_id": pa.array(np.arange(ENTITIES), pa.int64()),
                    "event_timestamp": pa.array([now] * ENTITIES, pa.timestamp("us")),
                    **columns,
                }
            ),
            folder / "v.parquet",
        )
        view = FeatureView(
            "online",
            [Entity("entity", join_keys=["entity_id"])],
            [Field(n, Float64) for n in NAMES],
            FileSource(str(folder / "v.parquet")),
            ttl=timedelta(days=30),
        )
        stores = {
            "pure-Python parser": store_with(_RESP2Parser, args.redis_url, namespace, folder),
            "hiredis": store_with(_HiredisParser, args.redis_url, namespace, folder),
        }
        for store in stores.values():
            store.apply([view])
        first = next(iter(stores.values()))
        first.materialize(datetime(2020, 1, 1), datetime.now(timezone.utc) + timedelta(minutes=1))
        refs = [f"online:{n}" for n in NAMES]
        fields = [n.encode() for n in NAMES]
        table = Table(title="Redis online reads x 20 features: p50 us (interleaved)")
        for column in ("entities", "parser", "mloop", "raw HMGET", "ratio"):
            table.add_column(column, justify="left" if column == "parser" else "right")
        for size in (1, 100):
            batches = [
                [{"entity_id": int(k)} for k in rng.integers(0, ENTITIES, size)]
                for _ in range(args.calls + 100)
            ]
            cases: dict[tuple[str, str], Callable[[list[dict[str, int]]], Any]] = {}
            for label, store in stores.items():
                client = store.online_store.client  # type: ignore[attr-defined]

                def raw(rows: list[dict[str, int]], client: Any = client) -> Any:
                    if len(rows) == 1:
                        return client.hmget(f"{namespace}:online:{rows[0]['entity_id']}", fields)
                    pipe = client.pipeline(transaction=False)
                    for r in rows:
                        pipe.hmget(f"{namespace}:online:{r['entity_id']}", fields)
                    return pipe.execute()

                cases[(label, "mloop")] = lambda rows, s=store: s.get_online_features(
                    refs, rows
                ).to_dict()
                cases[(label, "raw")] = raw
            samples: dict[tuple[str, str], list[int]] = {k: [] for k in cases}
            order = list(cases)
            for i, rows in enumerate(batches):
                for key in order if i % 2 == 0 else order[::-1]:
                    start = time.perf_counter_ns()
                    cases[key](rows)
                    if i >= 100:  # the first 100 calls warm up
                        samples[key].append(time.perf_counter_ns() - start)
            for label in stores:
                ours = statistics.median(samples[(label, "mloop")]) / 1000
                ref = statistics.median(samples[(label, "raw")]) / 1000
                table.add_row(str(size), label, f"{ours:.0f}", f"{ref:.0f}", f"{ours / ref:.2f}x")
        first.online_store.delete_view("online")
        for store in stores.values():
            store.close()
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
