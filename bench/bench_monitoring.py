"""Benchmark: the cost of monitoring per 1M logged predictions, beside a one-pass Polars reference.

    python bench/bench_monitoring.py           # 1M logged rows (one request = 4 rows), 12 inputs
    python bench/bench_monitoring.py --small   # 200k rows

The log is written in the serving layer's layout and schema (hourly folders, the metadata
columns, 12 inputs: 8 float, 4 string; ``prediction`` and ``prediction_proba``) with feedback
labels for 10% of the requests. "mloop" is a whole ``run_monitoring`` job on a registered model
(lineage lookup, reference predictions on its training data, statistics of the window with
``mloop.data``, drift, feedback join, live metrics, latency, the run/artifact/report rows).
The limit is one Polars query over the same files computing the numbers a job needs: count,
nulls, mean, std, min, max and 7 quantiles of the numeric inputs and outputs, the value counts
of the string inputs, p50/p99 latency, and the accuracy of the labelled rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics as pystats
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
FLOATS = [f"x{i}" for i in range(8)]
STRINGS = [f"s{i}" for i in range(4)]


def make_training(n: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {c: rng.normal(i, 1 + i % 3, n) for i, c in enumerate(FLOATS)}
    for i, c in enumerate(STRINGS):
        cols[c] = rng.choice([f"v{j}" for j in range(3 + 4 * i)], n).astype(object)
    frame = pd.DataFrame(cols)
    labels = ((frame["x0"] + frame["x1"] - 1) > 0).astype(int).to_numpy()
    return frame, labels


def write_log(root: Path, model, rows: int, end: datetime) -> None:
    """``rows`` logged predictions over the hour before ``end`` in 20 files, 10% labelled."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame, labels = make_training(rows, seed=1)
    pred = model.predict(frame)
    proba = model.predict_proba(frame)
    ts = (end - timedelta(minutes=30)).timestamp()
    request = np.arange(rows) // 4
    ids = np.char.add("r", request.astype(str))
    day, hour = (end - timedelta(minutes=30)).strftime("%Y-%m-%d/%H").split("/")
    folder = root / "predictions" / "bench" / f"date={day}" / f"hour={hour}"
    feedback = root / "feedback" / "bench" / f"date={day}" / f"hour={hour}"
    folder.mkdir(parents=True)
    feedback.mkdir(parents=True)
    for k, part in enumerate(np.array_split(np.arange(rows), 20)):
        cols = {
            "request_id": pa.array(ids[part]),
            "row": pa.array((np.arange(rows) % 4)[part].astype(np.int32)),
            "timestamp": pa.array(
                np.full(len(part), int(ts * 1000), dtype="datetime64[ms]"),
                type=pa.timestamp("ms", tz="UTC"),
            ),
            "model": pa.array(["bench"] * len(part)),
            "version": pa.array(["1"] * len(part)),
            "route": pa.array(["champion"] * len(part)),
            "latency_ms": pa.array(np.random.default_rng(k).gamma(2.0, 3.0, len(part))),
        }
        for c in FLOATS + STRINGS:
            cols[c] = pa.array(frame[c].to_numpy()[part])
        cols["prediction"] = pa.array(pred[part])
        cols["prediction_proba"] = pa.array(list(proba[part]))
        pq.write_table(pa.table(cols), folder / f"part-{k}.parquet", compression="zstd")
        labelled = part[request[part] % 10 == 0]
        pq.write_table(
            pa.table(
                {
                    "request_id": pa.array(ids[labelled]),
                    "row": pa.array((np.arange(rows) % 4)[labelled].astype(np.int32)),
                    "label": pa.array(labels[labelled]),
                    "timestamp": pa.array(
                        np.full(len(labelled), int(ts * 1000) + 60_000, dtype="datetime64[ms]"),
                        type=pa.timestamp("ms", tz="UTC"),
                    ),
                }
            ),
            feedback / f"part-{k}.parquet",
        )


def reference(log: Path) -> float:
    """One Polars pass: the statistics a monitoring job needs, no store, no lineage."""
    import polars as pl

    start = time.perf_counter()
    scan = pl.scan_parquet(str(log / "predictions" / "bench" / "**" / "*.parquet"))
    numeric = [*FLOATS, "prediction"]
    exprs = [pl.len().alias("n")]
    for c in numeric:
        col = pl.col(c)
        exprs += [
            col.null_count().alias(f"{c}_nulls"),
            col.mean().alias(f"{c}_mean"),
            col.std().alias(f"{c}_std"),
            col.min().alias(f"{c}_min"),
            col.max().alias(f"{c}_max"),
        ]
        exprs += [col.quantile(q).alias(f"{c}_q{q}") for q in QUANTILES]
    score = pl.col("prediction_proba").list.get(1)
    exprs += [
        score.mean().alias("score_mean"),
        *[score.quantile(q).alias(f"score_q{q}") for q in QUANTILES],
    ]
    exprs += [
        pl.col("latency_ms").quantile(0.5).alias("p50"),
        pl.col("latency_ms").quantile(0.99).alias("p99"),
    ]
    exprs += [pl.col(c).value_counts().implode().alias(f"{c}_counts") for c in STRINGS]
    stats = scan.select(exprs).collect()
    labels = pl.scan_parquet(str(log / "feedback" / "bench" / "**" / "*.parquet"))
    accuracy = (
        scan.select("request_id", "row", "prediction")
        .join(labels, on=["request_id", "row"])
        .select((pl.col("prediction") == pl.col("label")).mean())
        .collect()
    )
    assert stats.height == 1 and accuracy.height == 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = 200_000 if args.small else 1_000_000
    work = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    os.chdir(work)
    try:
        run_bench(work, rows, args.repeats)
    finally:
        os.chdir(tempfile.gettempdir())
        shutil.rmtree(work, ignore_errors=True)


def run_bench(work: Path, rows: int, repeats: int) -> None:
    """Train and register a model in ``work``, log ``rows`` predictions, time both sides."""
    from rich.console import Console
    from rich.table import Table
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import mloop
    import mloop.models
    from mloop import registry
    from mloop.monitoring import run_monitoring

    train, labels = make_training(5_000)
    prep = ColumnTransformer(
        [("num", "passthrough", FLOATS), ("cat", OneHotEncoder(handle_unknown="ignore"), STRINGS)]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=200))])
    model.fit(train, labels)
    with mloop.start_run("training") as run:
        (work / "data").mkdir()
        train.assign(label=labels).to_parquet(work / "data" / "data.parquet")
        data = mloop.log_artifact(work / "data", "train", artifact_type="Dataset")
        mloop.models.save_model(model, work / "pkg", input_example=train.head(5))
        registry.register_model("bench", work / "pkg", run=run, data_artifact_id=data.id)
    end = datetime.now(timezone.utc)
    log = work / ".mloop"
    write_log(log, model, rows, end)
    size = sum(f.stat().st_size for f in log.rglob("*.parquet")) / 1e6
    mine, ref = [], []
    for _ in range(repeats):  # alternate, so machine load hits both alike
        t = time.perf_counter()
        report = run_monitoring("bench", window="1h", now=end)
        mine.append(time.perf_counter() - t)
        ref.append(reference(log))
    assert report.num_rows == rows and report.labelled_rows > 0
    per_m = 1_000_000 / rows
    m, r = pystats.median(mine), pystats.median(ref)
    table = Table(title=f"monitoring one window: {rows:,} logged rows, {size:.1f} MB Parquet")
    for col in ("what", "median s", "s per 1M rows", "ratio to limit"):
        table.add_column(col)
    table.add_row(
        "mloop run_monitoring (whole job)", f"{m:.3f}", f"{m * per_m:.3f}", f"{m / r:.2f}"
    )
    table.add_row("limit: one-pass Polars", f"{r:.3f}", f"{r * per_m:.3f}", "1.00")
    Console().print(table)
    print(
        f"share drifted {report.share_drifted}, accuracy {report.metrics.get('accuracy'):.3f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
