"""Benchmark: data statistics, validation and drift, beside one-pass references.

    python bench/bench_data.py            # 500k and 5M rows x 30 mixed columns (Parquet),
                                          # and 2M rows of CSV (690 MB of text)
    python bench/bench_data.py --small    # 500k rows of Parquet only (and the CSV), quicker
    python bench/bench_data.py --small --csv-rows 0    # no CSV measurement

Every measurement runs in its own subprocess, so its peak RSS (``resource.getrusage``) is its
own (VmHWM); measurements of one size alternate (mloop, reference, mloop, ...) so that load
on a shared
machine hits both alike. The references compute the same numbers in one query: count, nulls,
mean, std, min, max, zeros, 7 quantiles, distinct count and top 20 of string columns, string
lengths, datetime range; DuckDB with its approximate quantiles/distinct/top-k (as mloop's
sketches), Polars with exact ones. The limit is the faster of the two. mloop's histograms come
from its quantile sketches, so no reference pays for histograms either.

Targets: statistics within 1.5x of the limit; peak RSS under 2x the data's in-memory size;
drift of 30 features from statistics under 100 ms; time linear in rows. Beside the peak RSS
the tables also print the peak above the idle interpreter (python + polars + mloop.data), a
fixed ~64 MB that the ratio counts against mloop.

The CSV measurement profiles a CSV file whose parsed data is larger than mloop's whole peak
RSS, beside DuckDB's ``read_csv`` and Polars' streaming ``scan_csv`` computing the same
numbers; it shows that a CSV is read lazily, in bounded memory, rather than loaded.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics as pystats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]


def make_data(n: int, path: Path, seed: int = 0) -> float:
    """Write n rows x 30 columns (12 float, 6 int, 8 string, 2 bool, 1 id string, 1 datetime) to
    ``path`` (Parquet); returns the frame's in-memory size in MB (Polars' estimate)."""
    frame = make_frame(n, seed)
    frame.write_parquet(path, compression="lz4")
    return frame.estimated_size() / 1e6


def make_csv(n: int, path: Path, seed: int = 0) -> float:
    """Write the same n rows x 30 columns as CSV; returns their in-memory size in MB as a
    reader infers them from the text (the id column becomes an integer), read back whole."""
    import polars as pl

    make_frame(n, seed).write_csv(path)
    return (
        pl.read_csv(path, try_parse_dates=True, infer_schema_length=10_000).estimated_size() / 1e6
    )


def make_frame(n: int, seed: int = 0):
    """n rows x 30 mixed columns as a Polars DataFrame (see :func:`make_data`)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(12):
        x = rng.normal(i, 1 + i % 3, n)
        if i % 4 == 0:
            x[rng.random(n) < 0.05] = np.nan
        cols[f"f{i}"] = x
    for i in range(6):
        cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), n)
    frame = pl.DataFrame(cols)
    categories = pl.Series([f"cat_{j}" for j in range(50)])
    extra = []
    shapes = np.random.default_rng(12345)  # the same category shares for every seed
    for i in range(8):
        k = 3 + i * 6
        p = shapes.dirichlet(np.ones(k))
        extra.append(categories.gather(rng.choice(k, n, p=p)).alias(f"s{i}"))
    extra.append(pl.Series("b0", rng.random(n) < 0.3))
    extra.append(pl.Series("b1", rng.random(n) < 0.7))
    extra.append(pl.Series("id", rng.integers(0, n, n)).cast(pl.String).alias("id"))
    start = np.datetime64("2024-01-01T00:00:00", "us")
    extra.append(pl.Series("ts", start + rng.integers(0, 86_400 * 365, n).astype("timedelta64[s]")))
    return frame.with_columns(extra)


# -- children: one measurement each ------------------------------------------------------------


def child_mloop(path: str, out: str | None) -> None:
    from mloop.data import compute_statistics

    stats = compute_statistics(path)
    if out:
        Path(out).write_text(stats.to_json())


def child_duckdb(path: str, out: str | None) -> None:
    import duckdb

    con = duckdb.connect()
    source = f"read_csv('{path}')" if path.endswith(".csv") else f"read_parquet('{path}')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    parts = []
    for name, typ, *_ in cols:
        q = f'"{name}"'
        parts += [f"count({q})", f"count(*) - count({q})"]
        if typ in ("DOUBLE", "BIGINT", "INTEGER", "FLOAT"):
            parts += [
                f"avg({q})",
                f"stddev_samp({q})",
                f"min({q})",
                f"max({q})",
                f"count_if({q} = 0)",
                f"approx_quantile({q}, {QUANTILES})",
            ]
        elif typ in ("VARCHAR", "BOOLEAN"):
            parts += [f"approx_count_distinct({q})", f"approx_top_k({q}, 20)"]
            if typ == "VARCHAR":
                parts += [f"min(length({q}))", f"max(length({q}))", f"sum(length({q}))"]
        else:
            parts += [f"min({q})", f"max({q})"]
    con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchone()


def child_polars(path: str, out: str | None) -> None:
    import polars as pl

    csv = path.endswith(".csv")
    lf = pl.scan_csv(path, try_parse_dates=True) if csv else pl.scan_parquet(path)
    exprs = []
    for name, dtype in lf.collect_schema().items():
        c = pl.col(name)
        exprs += [c.count().alias(f"{name}|count"), c.null_count().alias(f"{name}|nulls")]
        if dtype.is_numeric():
            exprs += [
                c.mean().alias(f"{name}|mean"),
                c.std().alias(f"{name}|std"),
                c.min().alias(f"{name}|min"),
                c.max().alias(f"{name}|max"),
                (c == 0).sum().alias(f"{name}|zeros"),
                c.quantile(QUANTILES).alias(f"{name}|q"),
            ]
        elif dtype in (pl.String, pl.Boolean):
            exprs += [
                c.n_unique().alias(f"{name}|distinct"),
                c.value_counts(sort=True).head(20).implode().alias(f"{name}|top"),
            ]
            if dtype == pl.String:
                lengths = c.str.len_chars()
                exprs += [
                    lengths.min().alias(f"{name}|lmin"),
                    lengths.max().alias(f"{name}|lmax"),
                    lengths.sum().alias(f"{name}|lsum"),
                ]
        else:
            exprs += [c.min().alias(f"{name}|min"), c.max().alias(f"{name}|max")]
    lf.select(exprs).collect(engine="streaming" if csv else "auto")


def child_idle(path: str, out: str | None) -> None:
    import polars  # noqa: F401

    import mloop.data  # noqa: F401


CHILDREN = {
    "mloop": child_mloop,
    "duckdb": child_duckdb,
    "polars": child_polars,
    "idle": child_idle,
}


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: VmHWM, which starts afresh at exec (on
    Linux ``getrusage``'s ru_maxrss can carry the forking parent's peak over an exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_child(kind: str, path: Path, out: Path | None = None) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", kind, str(path)]
    if out is not None:
        args += ["--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- parent ------------------------------------------------------------------------------------


def time_in_process(fn, repeat: int) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return pystats.median(times)


def bench_size(n: int, repeat: int, folder: Path, with_polars: bool) -> dict[str, object]:
    path = folder / f"data_{n}.parquet"
    size_mb = make_data(n, path)
    ref_path = folder / f"ref_{n}.parquet"
    make_data(n, ref_path, seed=1)
    kinds = ["mloop", "duckdb"] + (["polars"] if with_polars else [])
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    stats_json = folder / f"stats_{n}.json"
    for _ in range(repeat):
        for kind in kinds:  # alternate, so machine load hits every contender alike
            runs[kind].append(run_child(kind, path, stats_json if kind == "mloop" else None))
    idle = run_child("idle", path)
    ref_json = folder / f"refstats_{n}.json"
    run_child("mloop", ref_path, ref_json)

    from mloop.data import Statistics, detect_drift, infer_schema, validate

    current = Statistics.from_json(stats_json.read_text())
    reference = Statistics.from_json(ref_json.read_text())
    schema = infer_schema(reference)
    drift_s = time_in_process(lambda: detect_drift(reference, current, schema), 30)
    validate_s = time_in_process(lambda: validate(current, schema), 30)
    validate_ref_s = time_in_process(lambda: validate(current, schema, reference=reference), 30)
    return {
        "rows": n,
        "size_mb": size_mb,
        "file_mb": path.stat().st_size / 1e6,
        "seconds": {k: pystats.median(r["seconds"] for r in v) for k, v in runs.items()},
        "rss_mb": {k: max(r["rss_mb"] for r in v) for k, v in runs.items()},
        "idle_rss_mb": idle["rss_mb"],
        "drift_s": drift_s,
        "validate_s": validate_s,
        "validate_with_drift_s": validate_ref_s,
        "drifted": detect_drift(reference, current, schema).drifted_features,
    }


def bench_csv(n: int, repeat: int, folder: Path, with_polars: bool) -> dict[str, object]:
    """compute_statistics over a CSV file beside DuckDB's and Polars' streaming engines: peak
    RSS against the data's in-memory size (the file is never held whole) and time."""
    path = folder / f"data_{n}.csv"
    size_mb = make_csv(n, path)
    kinds = ["mloop", "duckdb"] + (["polars"] if with_polars else [])
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            runs[kind].append(run_child(kind, path))
    idle = run_child("idle", path)
    return {
        "rows": n,
        "size_mb": size_mb,
        "file_mb": path.stat().st_size / 1e6,
        "seconds": {k: pystats.median(r["seconds"] for r in v) for k, v in runs.items()},
        "rss_mb": {k: max(r["rss_mb"] for r in v) for k, v in runs.items()},
        "idle_rss_mb": idle["rss_mb"],
    }


def report_csv(r: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mloop data: statistics of a CSV file (median seconds, peak RSS)")
    for col in ("rows", "measurement", "median s", "ratio to limit", "peak RSS MB", "RSS / data"):
        table.add_column(col, justify="left" if col == "measurement" else "right")
    secs, rss = r["seconds"], r["rss_mb"]
    limit = min(v for k, v in secs.items() if k != "mloop")
    size, rows = r["size_mb"], f"{r['rows']:,}"
    labels = {
        "mloop": "mloop compute_statistics",
        "duckdb": "DuckDB read_csv one-pass (approx)",
        "polars": "Polars scan_csv, streaming engine (exact)",
    }
    for kind in secs:
        ratio = f"{secs[kind] / limit:.2f}x"
        table.add_row(
            rows,
            labels[kind],
            f"{secs[kind]:.2f}",
            ratio,
            f"{rss[kind]:.0f}",
            f"{rss[kind] / size:.2f}x",
        )
    above = rss["mloop"] - r["idle_rss_mb"]
    table.add_row(
        rows,
        "mloop peak above the idle interpreter",
        "",
        "",
        f"{above:.0f}",
        f"{above / size:.2f}x",
    )
    table.add_row(rows, "python + polars + mloop.data, idle", "", "", f"{r['idle_rss_mb']:.0f}", "")
    table.add_row(
        rows, f"data in memory ({r['file_mb']:.0f} MB of CSV)", "", "", f"{size:.0f}", "1.00x"
    )
    Console(width=150).print(table)


def report(results: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mloop data: statistics / validation / drift (median seconds, peak RSS)")
    for col in (
        "rows",
        "measurement",
        "median s",
        "ratio to limit",
        "peak RSS MB",
        "RSS / data",
        "target",
    ):
        table.add_column(col, justify="left" if col in ("measurement", "target") else "right")
    for r in results:
        secs, rss = r["seconds"], r["rss_mb"]
        limit = min(v for k, v in secs.items() if k != "mloop")
        size = r["size_mb"]
        rows = f"{r['rows']:,}"
        for kind in secs:
            label = {
                "mloop": "mloop compute_statistics",
                "duckdb": "DuckDB one-pass (approx)",
                "polars": "Polars one-pass (exact)",
            }[kind]
            target = ""
            if kind == "mloop":
                ok = secs[kind] <= 1.5 * limit and rss[kind] < 2 * size
                target = f"<= 1.5x, RSS < 2x data: {'OK' if ok else 'MISSED'}"
            table.add_row(
                rows,
                label,
                f"{secs[kind]:.2f}",
                f"{secs[kind] / limit:.2f}x",
                f"{rss[kind]:.0f}",
                f"{rss[kind] / size:.2f}x",
                target,
            )
        above = rss["mloop"] - r["idle_rss_mb"]
        table.add_row(
            rows,
            "mloop peak above the idle interpreter",
            "",
            "",
            f"{above:.0f}",
            f"{above / size:.2f}x",
            "(beside the target, not instead)",
        )
        table.add_row(
            rows, "python + polars + mloop.data, idle", "", "", f"{r['idle_rss_mb']:.0f}", "", ""
        )
        table.add_row(
            rows,
            f"data in memory ({r['file_mb']:.0f} MB Parquet)",
            "",
            "",
            f"{size:.0f}",
            "1.00x",
            "",
        )
        drift_ms = r["drift_s"] * 1000
        table.add_row(
            rows,
            "detect_drift, 30 features",
            f"{r['drift_s']:.4f}",
            "",
            "",
            "",
            f"< 100 ms: {'OK' if drift_ms < 100 else 'MISSED'}",
        )
        table.add_row(rows, "validate", f"{r['validate_s']:.4f}", "", "", "", "")
        table.add_row(
            rows,
            "validate + drift (reference=)",
            f"{r['validate_with_drift_s']:.4f}",
            "",
            "",
            "",
            "",
        )
    console = Console(width=150)
    console.print(table)
    if len(results) > 1:
        a, b = results[0], results[-1]
        per_a = a["seconds"]["mloop"] / a["rows"] * 1e6
        per_b = b["seconds"]["mloop"] / b["rows"] * 1e6
        console.print(
            f"scaling: {per_a:.2f} s per million rows at {a['rows']:,}, {per_b:.2f} at "
            f"{b['rows']:,} (ratio {per_b / per_a:.2f}; 1.00 is linear)"
        )
    for r in results:
        console.print(
            f"{r['rows']:,} rows: drifted between two seeds of the same generator: {r['drifted']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="500k rows only")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender and size")
    parser.add_argument(
        "--no-polars", action="store_true", help="skip the slow exact Polars reference"
    )
    parser.add_argument(
        "--csv-rows",
        type=int,
        default=2_000_000,
        help="rows of the CSV measurement (0: skip it); default 2M rows, about 690 MB of CSV",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        started = time.perf_counter()
        CHILDREN[args.child](args.path, args.out)
        seconds = time.perf_counter() - started
        rss_mb = peak_rss_mb()
        print(json.dumps({"seconds": seconds, "rss_mb": rss_mb}))
        return
    sizes = [500_000] if args.small else [500_000, 5_000_000]
    with tempfile.TemporaryDirectory(prefix="mloop-bench-data-") as tmp:
        results = [bench_size(n, args.repeat, Path(tmp), not args.no_polars) for n in sizes]
        csv = (
            bench_csv(args.csv_rows, args.repeat, Path(tmp), not args.no_polars)
            if args.csv_rows > 0
            else None
        )
    report(results)
    if csv is not None:
        report_csv(csv)


if __name__ == "__main__":
    main()
