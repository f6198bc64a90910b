"""Online serving: mloop's service beside a bare Starlette endpoint calling ``model.predict``.

The model is a scikit-learn Pipeline (ColumnTransformer: scaling 14 numeric columns, one-hot
encoding 6 categorical ones, then a logistic regression), saved as an mloop package. Three
servers run in turn, each with the same number of worker processes on the same listening setup
(SO_REUSEPORT, TCP_NODELAY):

- limit: a bare Starlette endpoint that parses the same Open Inference Protocol JSON body with
  orjson, builds a DataFrame and calls ``model.predict`` (no checks, no log, no metrics);
- mloop unbatched: ``mloop serve`` with ``--max-batch-size 1`` (signature check, metrics and the
  prediction log on);
- mloop batched: the same with adaptive micro-batching (64 rows, 2 ms wait while busy).

For requests of 1 and 64 rows at concurrency 1, 8 and 64, an async httpx load generator in
another process sends requests for a bounded time. The table gives requests/s, rows/s, p50 and
p99 latency (ms), server CPU per request (ms, all worker processes, read from /proc) and errors.

Targets (DESIGN.md): unbatched >= 80% of the limit's throughput; batched >= 5x the limit's
rows/s for 1-row requests at concurrency 64, with p50 at concurrency 1 within 1.2x.

Run: python bench/bench_serving.py [--small] [--seconds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_NUMERIC = 14
N_CATEGORICAL = 6


# -- model ------------------------------------------------------------------------------------
def make_frame(n: int, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"num{i}": rng.normal(size=n) for i in range(N_NUMERIC)}
    for i in range(N_CATEGORICAL):
        data[f"cat{i}"] = rng.choice([f"v{j}" for j in range(5)], n).astype(object)
    return pd.DataFrame(data)


def build_package(folder: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import mloop.models

    frame = make_frame(2000)
    labels = (frame["num0"] + (frame["cat0"] == "v1") > 0.3).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), [f"num{i}" for i in range(N_NUMERIC)]),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore"),
                [f"cat{i}" for i in range(N_CATEGORICAL)],
            ),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(frame, labels)
    mloop.models.save_model(model, folder, input_example=frame.head(16))
    return folder


def oip_body(rows: int) -> bytes:
    import orjson

    frame = make_frame(rows, seed=rows)
    inputs = []
    for col in frame.columns:
        datatype = "FP64" if col.startswith("num") else "BYTES"
        inputs.append(
            {"name": col, "shape": [rows], "datatype": datatype, "data": frame[col].tolist()}
        )
    return orjson.dumps({"inputs": inputs})


# -- the limit: a bare Starlette endpoint -------------------------------------------------------
def reference_app(package: str) -> Any:
    import orjson
    import pandas as pd
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    import mloop.models

    model = mloop.models.load_model(package).native  # the scikit-learn Pipeline itself

    async def infer(request: Request) -> Response:
        doc = orjson.loads(await request.body())
        frame = pd.DataFrame({i["name"]: i["data"] for i in doc["inputs"]})
        predictions = model.predict(frame)
        body = {"outputs": [{"name": "predict", "data": predictions.tolist()}]}
        return Response(orjson.dumps(body), media_type="application/json")

    return Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"])])


def mloop_app(package: str, max_batch_size: int, log_dir: str) -> Any:
    from mloop.serving.app import create_app
    from mloop.serving.settings import ServingConfig

    config = ServingConfig(
        model_uri=package,
        max_batch_size=max_batch_size,
        max_wait_ms=2.0,
        poll_interval_s=0,
        log_dir=Path(log_dir),
    )
    return create_app(config)


def serve_main(kind: str, package: str, port: int, workers: int, log_dir: str) -> None:
    from mloop.serving.workers import serve_app

    if kind == "limit":
        serve_app(reference_app, (package,), host="127.0.0.1", port=port, workers=workers)
    else:
        size = 1 if kind == "unbatched" else 64
        serve_app(mloop_app, (package, size, log_dir), host="127.0.0.1", port=port, workers=workers)


# -- load generator (another process) ----------------------------------------------------------
def load_main(url: str, body: bytes, concurrency: int, seconds: float, out: Any) -> None:
    import httpx

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    try:
                        resp = await client.post(
                            "/v2/models/bench/infer", content=body, headers=headers
                        )
                        ok = resp.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        latencies.append(time.perf_counter() - start)
                    else:
                        errors += 1

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
        return {"latencies": latencies, "errors": errors, "elapsed": elapsed}

    out.send(asyncio.run(run()))


def run_load(url: str, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=load_main, args=(url, body, concurrency, seconds, child))
    proc.start()
    result = parent.recv()
    proc.join(60)
    return result


# -- server CPU from /proc ---------------------------------------------------------------------
def tree_cpu_seconds(root: int) -> float:
    """utime + stime (seconds) of ``root`` and all its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    family = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    return sum(cpu.get(pid, 0.0) for pid in family)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    kind: str, package: Path, workers: int, log_dir: Path
) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--package",
        str(package),
        "--port",
        str(port),
    ]
    cmd += ["--workers", str(workers), "--log-dir", str(log_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    body = oip_body(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            resp = httpx.post(f"{url}/v2/models/bench/infer", content=body, timeout=2)
            if resp.status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{kind} server did not start: {proc.stderr.read().decode()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def measure(
    kind: str,
    package: Path,
    workers: int,
    scenarios: list[tuple[int, int]],
    seconds: float,
    log_dir: Path,
) -> dict[tuple[int, int], dict[str, float]]:
    proc, url = start_server(kind, package, workers, log_dir)
    out: dict[tuple[int, int], dict[str, float]] = {}
    try:
        run_load(url, oip_body(1), 8, min(1.0, seconds))  # warm-up
        for rows, conc in scenarios:
            body = oip_body(rows)
            cpu0 = tree_cpu_seconds(proc.pid)
            res = run_load(url, body, conc, seconds)
            cpu = tree_cpu_seconds(proc.pid) - cpu0
            lat = sorted(res["latencies"])
            n = len(lat)
            out[(rows, conc)] = {
                "req_s": n / res["elapsed"],
                "rows_s": n * rows / res["elapsed"],
                "p50": lat[n // 2] * 1000 if n else float("nan"),
                "p99": lat[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
                "cpu_ms": cpu * 1000 / max(n, 1),
                "errors": res["errors"],
                "n": n,
            }
    finally:
        stop_server(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1.5 s per scenario")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--package", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.package, args.port, args.workers, args.log_dir)
        return

    from rich.console import Console
    from rich.table import Table

    seconds = 1.5 if args.small else args.seconds
    scenarios = [(rows, conc) for rows in (1, 64) for conc in (1, 8, 64)]
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        package = build_package(Path(tmp) / "bench")
        results = {}
        for kind in ("limit", "unbatched", "batched"):
            console.print(f"measuring {kind} ({len(scenarios)} scenarios x {seconds:g} s)...")
            results[kind] = measure(
                kind, package, args.workers, scenarios, seconds, Path(tmp) / kind
            )

    table = Table(
        title=f"Serving, {args.workers} worker(s), {seconds:g} s per scenario (limit: bare Starlette + model.predict)"
    )
    for col in (
        "server",
        "rows/req",
        "conc",
        "req/s",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "CPU ms/req",
        "errors",
        "req/s vs limit",
    ):
        table.add_column(col, justify="right" if col != "server" else "left")
    for rows, conc in scenarios:
        ref = results["limit"][(rows, conc)]
        for kind in ("limit", "unbatched", "batched"):
            r = results[kind][(rows, conc)]
            table.add_row(
                kind,
                str(rows),
                str(conc),
                f"{r['req_s']:.0f}",
                f"{r['rows_s']:.0f}",
                f"{r['p50']:.2f}",
                f"{r['p99']:.2f}",
                f"{r['cpu_ms']:.2f}",
                str(r["errors"]),
                f"{r['req_s'] / ref['req_s']:.2f}x",
            )
        table.add_section()
    console.print(table)

    lim, unb, bat = results["limit"], results["unbatched"], results["batched"]
    unbatched_ratios = [unb[s]["req_s"] / lim[s]["req_s"] for s in scenarios]
    batched_rows = bat[(1, 64)]["rows_s"] / lim[(1, 64)]["rows_s"]
    p50_ratio = bat[(1, 1)]["p50"] / lim[(1, 1)]["p50"]
    errors = sum(r["errors"] for k in results.values() for r in k.values())
    summary = Table(title="Targets")
    for col in ("target", "measured", "met"):
        summary.add_column(col)
    summary.add_row(
        "unbatched throughput >= 0.8x limit (median over scenarios)",
        f"{statistics.median(unbatched_ratios):.2f}x (min {min(unbatched_ratios):.2f}x)",
        str(statistics.median(unbatched_ratios) >= 0.8),
    )
    summary.add_row(
        "batched rows/s at 1 row, conc 64 >= 5x limit",
        f"{batched_rows:.2f}x",
        str(batched_rows >= 5),
    )
    summary.add_row(
        "batched p50 at 1 row, conc 1 <= 1.2x limit", f"{p50_ratio:.2f}x", str(p50_ratio <= 1.2)
    )
    summary.add_row("no request shed (errors)", str(errors), str(errors == 0))
    console.print(summary)


if __name__ == "__main__":
    main()
