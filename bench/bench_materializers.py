"""Materializer round trip of a 1M-row x 10-column polars frame, beside its limit reference.

mloop path: ``store_value`` (stage, write Parquet, hash + fsync, atomic publish) then
``load_value`` (verify the SHA-256 digest, read) through a LocalArtifactStore.
Limit reference: ``df.write_parquet(path)`` + ``pl.read_parquet(path)`` with the same codec
(no hashing, no fsync). Also shown: the other codecs, so the codec choice stays measured.
Design target: mloop time <= 2x the same-codec reference (speed >= 50 %).

Run: ``python bench/bench_materializers.py [--rows 1000000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from mloop.artifacts.local import LocalArtifactStore
from mloop.pipelines.materializers import frames, load_value, store_value


def make_frame(rows: int) -> pl.DataFrame:
    """4 float, 3 int and 3 string columns (strings of 4-9 characters, ~50k distinct)."""
    rng = np.random.default_rng(0)
    cols: dict[str, object] = {}
    for i in range(4):
        cols[f"f{i}"] = rng.random(rows)
    for i in range(3):
        cols[f"i{i}"] = rng.integers(0, 1_000_000, rows)
    for i in range(3):
        keys = pl.Series(rng.integers(0, 50_000, rows))
        cols[f"s{i}"] = "k" + keys.cast(pl.Utf8)
    return pl.DataFrame(cols)


def ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1e3


def run_case(
    df: pl.DataFrame, work: Path, codec: str, level: int | None, repeat: int
) -> dict[str, float]:
    """Interleave reference and mloop round trips (the machine is noisy) and take medians."""
    frames.PARQUET_CODEC, frames.PARQUET_LEVEL = codec, level
    store = LocalArtifactStore.from_url(str(work / f"store-{codec}-{level}"))
    ref_path = work / f"ref-{codec}-{level}.parquet"
    t: dict[str, list[float]] = {"ref": [], "store": [], "load": [], "mloop": [], "ratio": []}
    size = ref_size = 0
    for i in range(repeat):
        t0 = time.perf_counter()
        df.write_parquet(ref_path, compression=codec, compression_level=level)
        assert pl.read_parquet(ref_path).height == df.height
        t1 = time.perf_counter()
        stored = store_value(df, store, f"bench/{i}")
        t2 = time.perf_counter()
        out = load_value(store, stored.uri, stored.materializer, digest=stored.digest)
        t3 = time.perf_counter()
        assert out.height == df.height
        size, ref_size = stored.size, ref_path.stat().st_size
        t["ref"].append(t1 - t0)
        t["store"].append(t2 - t1)
        t["load"].append(t3 - t2)
        t["mloop"].append(t3 - t1)
        t["ratio"].append((t3 - t1) / (t1 - t0))
    result = {k: ms(v) for k, v in t.items() if k != "ratio"}
    result["pair_ratio"] = statistics.median(t["ratio"])
    result["size"], result["ref_size"] = size, ref_size
    return result


def reference_only(df: pl.DataFrame, work: Path, codec: str, repeat: int) -> tuple[float, int]:
    path = work / f"only-{codec}.parquet"
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        df.write_parquet(path, compression=codec)
        assert pl.read_parquet(path).height == df.height
        times.append(time.perf_counter() - t0)
    return ms(times), path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    df = make_frame(args.rows)
    work = Path(tempfile.mkdtemp(prefix="mloop-bench-"))
    saved = frames.PARQUET_CODEC, frames.PARQUET_LEVEL
    row = "{:<46}{:>10}{:>9}{:>8}"
    try:
        mem_mb = df.estimated_size() / 1e6
        print(f"frame: {df.height:,} rows x {df.width} columns, {mem_mb:.1f} MB in memory")
        print(f"median of {args.repeat}; ratio = mloop time / reference time (target <= 2.00x)")
        print(row.format("case", "ms", "MB", "ratio"))
        default_ms, default_size = reference_only(df, work, "zstd", args.repeat)
        print(
            row.format(
                "limit: polars default codec (zstd-3)",
                f"{default_ms:.0f}",
                f"{default_size / 1e6:.1f}",
                "",
            )
        )
        for codec in ["snappy", "gzip"]:
            t_ms, size = reference_only(df, work, codec, args.repeat)
            print(row.format(f"limit: polars {codec}", f"{t_ms:.0f}", f"{size / 1e6:.1f}", ""))
        for codec, level in [("lz4", None), ("zstd", 1)]:
            label = codec if level is None else f"{codec}-{level}"
            r = run_case(df, work, codec, level, args.repeat)
            print(
                row.format(
                    f"limit: write_parquet+read_parquet {label}",
                    f"{r['ref']:.0f}",
                    f"{r['ref_size'] / 1e6:.1f}",
                    "",
                )
            )
            print(
                row.format(
                    f"mloop store_value+load_value {label}",
                    f"{r['mloop']:.0f}",
                    f"{r['size'] / 1e6:.1f}",
                    f"{r['mloop'] / r['ref']:.2f}x",
                )
            )
            print(row.format("  median of per-pair ratios", "", "", f"{r['pair_ratio']:.2f}x"))
            print(
                row.format(
                    "  store_value (write, hash, fsync, rename)", f"{r['store']:.0f}", "", ""
                )
            )
            print(row.format("  load_value (verify digest, read)", f"{r['load']:.0f}", "", ""))
            print(
                row.format("  vs polars default codec", "", "", f"{r['mloop'] / default_ms:.2f}x")
            )
    finally:
        frames.PARQUET_CODEC, frames.PARQUET_LEVEL = saved
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
