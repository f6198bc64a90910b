"""Orchestration overhead of the local runner, beside a plain-Python "limit" reference.

Scenarios (DESIGN.md performance budgets):
  chain20      20 trivial steps in a chain            budget: <= 3 ms/step over the reference
  cached20     the same chain again, all cache hits   budget: < 100 ms in total
  param_change the chain with one mid-chain parameter changed (half cached, half run)
  fan16        one source, 16 parallel steps, one gather (parallel=1 and parallel=4)
  file20       the chain with every step naming one unchanged 64 MB file (path parameter):
               its content joins each cache key; the (size, mtime) memo makes it one stat
               per step after the first hash. Reference: the chain reference + one stat/step
  frames5      5 steps passing a 1M-row x 10-column Polars DataFrame
               budget: >= 50% of the speed of writing + reading the same Parquet directly
Reference for trivial steps: calling the same functions, hashing each input (SHA-256 of its
JSON) and inserting + committing one SQLite row per step (WAL, synchronous=NORMAL).

Run: python bench/bench_pipelines.py [--repeat 5] [--rows 1000000] [--file-mb 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import polars as pl
from rich.console import Console
from rich.table import Table

from mloop import pipeline, step
from mloop.artifacts import connect as connect_artifacts
from mloop.config import load_settings
from mloop.metadata import connect as connect_metadata

N_CHAIN = 20
N_FAN = 16


@step
def inc(x: int, k: int = 1) -> int:
    return x + k


@step
def seed(s: int) -> int:
    return s


@step
def gather(values: list[int]) -> int:
    return sum(values)


@pipeline
def chain(start: int = 0, mid_k: int = 1):
    x = seed(start)
    for i in range(N_CHAIN - 1):
        x = inc(x, k=mid_k if i == N_CHAIN // 2 else 1)


@step
def inc_reading(x: int, path: str) -> int:
    return x + 1  # the file is not read: what is measured is fingerprinting it


@pipeline
def file_chain(start: int = 0, path: str = "big.bin"):
    x = seed(start)
    for _ in range(N_CHAIN - 1):
        x = inc_reading(x, path)


@step
def fan_leaf(x: int, i: int) -> int:
    return x * i


@step
def fan_in(
    a0: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int, a7: int,
    a8: int, a9: int, a10: int, a11: int, a12: int, a13: int, a14: int, a15: int,
) -> int:  # fmt: skip
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15


@pipeline
def fan(start: int = 0):
    x = seed(start)
    leaves = [fan_leaf(x, i=i) for i in range(N_FAN)]
    fan_in(*leaves)


@step
def make_frame(rows: int, salt: int) -> pl.DataFrame:
    rng = np.random.default_rng(salt)
    cols = {f"f{i}": rng.normal(size=rows) for i in range(6)}
    cols |= {f"i{i}": rng.integers(0, 1000, size=rows) for i in range(3)}
    cols["s"] = rng.choice(["a", "b", "c", "d"], size=rows)
    return pl.DataFrame(cols)


@step
def touch(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("f0") + 1.0)


@pipeline
def frames(rows: int = 1_000_000, salt: int = 0):
    df = make_frame(rows, salt)
    for _ in range(4):
        df = touch(df)


# -- references ------------------------------------------------------------------------------
def reference_chain(folder: Path, n_steps: int, start: int) -> None:
    """Plain calls + SHA-256 of each input + one committed SQLite row per step."""
    con = sqlite3.connect(folder / "ref.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS ex (id TEXT, step TEXT, key TEXT, value TEXT)")
    x = start
    for i in range(n_steps):
        key = hashlib.sha256(orjson.dumps({"x": x, "k": 1})).hexdigest()
        x = inc.func(x, 1)
        con.execute("INSERT INTO ex VALUES (?, ?, ?, ?)", (str(i), "inc", key, str(x)))
        con.commit()
    con.close()


def stats(path: Path) -> None:
    """One stat of the input file per step: the least a content-aware cache must do."""
    for _ in range(N_CHAIN):
        path.stat()


def reference_frames(folder: Path, rows: int, salt: int) -> None:
    """The same 5 steps, each output written to Parquet and read back by the next step."""
    df = make_frame.func(rows, salt)
    for i in range(5):
        path = folder / f"ref{i}.parquet"
        df.write_parquet(path, compression="lz4")
        df = pl.read_parquet(path)
        if i < 4:
            df = touch.func(df)


# -- harness -----------------------------------------------------------------------------------
def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def fresh_project() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mloop-bench-"))
    os.chdir(folder)
    settings = load_settings(folder)
    connect_metadata(settings.metadata_url)  # create + migrate outside the timed region
    connect_artifacts(settings.artifact_root)
    return folder


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file-mb", type=int, default=64, help="size of the file20 input, MB")
    args = parser.parse_args()
    console = Console()
    rows: list[tuple[str, float, float | None, str]] = []

    chain_t, warm_t, steady_t, cached_t, change_t, ref_t = [], [], [], [], [], []
    for r in range(args.repeat):
        folder = fresh_project()
        chain_t.append(timed(lambda r=r: chain.run(start=r)))
        cached_t.append(timed(lambda r=r: chain.run(start=r)))
        change_t.append(timed(lambda r=r: chain.run(start=r, mid_k=2)))
        # new values all along the chain: every step executes, in a store that has history
        warm_t.append(timed(lambda r=r: chain.run(start=10_000 + r)))
        # steady state: a project in use (several runs already in this store and process)
        for k in range(5):
            chain.run(start=20_000 + 100 * r + k)
        steady_t.append(timed(lambda r=r: chain.run(start=30_000 + r)))
        ref_t.append(timed(lambda r=r, f=folder: reference_chain(f, N_CHAIN, r)))
    for label, samples in (
        ("first run, new store", chain_t),
        ("4th run in the store", warm_t),
        ("steady state, 10th run", steady_t),
    ):
        overhead = (median_ms(samples) - median_ms(ref_t)) / N_CHAIN
        rows.append(
            (
                f"chain20, 20 trivial steps ({label})",
                median_ms(samples),
                median_ms(ref_t),
                f"{overhead:.2f} ms/step overhead (budget <= 3)",
            )
        )
    rows.append(
        (
            "cached20 (full cache-hit rerun)",
            median_ms(cached_t),
            median_ms(ref_t),
            f"budget < 100 ms total; {median_ms(cached_t) / N_CHAIN:.2f} ms/step",
        )
    )
    rows.append(
        (
            "param_change (mid-chain param)",
            median_ms(change_t),
            median_ms(ref_t),
            "10 cached + 10 run",
        )
    )

    for parallel in (1, 4):
        fan_t, fan_ref = [], []
        for r in range(args.repeat):
            folder = fresh_project()
            fan_t.append(timed(lambda r=r, p=parallel: fan.run_with({"start": r}, parallel=p)))
            fan_ref.append(timed(lambda r=r, f=folder: reference_chain(f, N_FAN + 2, r)))
        rows.append(
            (
                f"fan16 (parallel={parallel})",
                median_ms(fan_t),
                median_ms(fan_ref),
                f"{(median_ms(fan_t) - median_ms(fan_ref)) / (N_FAN + 2):.2f} ms/step",
            )
        )

    file_first, file_next, file_cached, file_ref = [], [], [], []
    for r in range(args.repeat):
        folder = fresh_project()
        big = folder / "big.bin"
        big.write_bytes(np.random.default_rng(r).bytes(args.file_mb << 20))
        old = time.time() - 60
        os.utime(big, (old, old))  # an existing data file, not one being written
        file_first.append(timed(lambda r=r: file_chain.run(start=r)))
        file_cached.append(timed(lambda r=r: file_chain.run(start=r)))
        file_next.append(timed(lambda r=r: file_chain.run(start=1000 + r)))
        file_ref.append(
            timed(lambda r=r, f=folder, b=big: (reference_chain(f, N_CHAIN, r), stats(b)))
        )
    for label, samples in (
        ("first run: hashes the file once", file_first),
        ("new values, memo hit", file_next),
        ("full cache-hit rerun", file_cached),
    ):
        overhead = (median_ms(samples) - median_ms(file_ref)) / N_CHAIN
        rows.append(
            (
                f"file20 {args.file_mb} MB input ({label})",
                median_ms(samples),
                median_ms(file_ref),
                f"{overhead:.2f} ms/step overhead",
            )
        )

    fr_t, fr_ref = [], []
    for r in range(max(3, args.repeat // 2)):
        folder = fresh_project()
        fr_t.append(timed(lambda r=r: frames.run(rows=args.rows, salt=r)))
        fr_ref.append(timed(lambda r=r, f=folder: reference_frames(f, args.rows, r)))
    speed = median_ms(fr_ref) / median_ms(fr_t)
    rows.append(
        (
            f"frames5 ({args.rows:,} x 10 DataFrame)",
            median_ms(fr_t),
            median_ms(fr_ref),
            f"{speed:.0%} of reference speed (budget >= 50%)",
        )
    )

    table = Table(title="mloop orchestration vs plain-Python limit (medians)")
    for col in ("scenario", "mloop ms", "limit ms", "ratio", "note"):
        table.add_column(col)
    for name, ours, ref, note in rows:
        ratio = f"{ours / ref:.1f}x" if ref else "-"
        table.add_row(name, f"{ours:.1f}", f"{ref:.1f}" if ref else "-", ratio, note)
    console.print(table)


if __name__ == "__main__":
    main()
