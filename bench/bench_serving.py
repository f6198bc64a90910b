"""Online serving: mloop's service beside a bare Starlette endpoint calling ``model.predict``.

The model is a scikit-learn Pipeline (ColumnTransformer: scaling 14 numeric columns, one-hot
encoding 6 categorical ones, then a logistic regression), saved as an mloop package. Three
servers run in turn, each with the same number of worker processes on the same listening setup
(SO_REUSEPORT, TCP_NODELAY):

- limit: a bare Starlette endpoint that parses the same Open Inference Protocol JSON body with
  orjson, builds a DataFrame and calls ``model.predict`` (no checks, no log, no metrics);
- mloop unbatched: ``mloop serve`` with ``--max-batch-size 1`` (signature check, metrics and the
  prediction log on);
- mloop batched: the same with adaptive micro-batching (the default row budget, 1024 rows per
  model call, so 64-row requests are batched too; 2 ms wait while busy).

For requests of 1 and 64 rows at concurrency 1, 8 and 64, a load generator in another process
sends requests for a bounded time, the three servers taking turns scenario by scenario. Two
generators: an async httpx client (as users would write one), and a raw one writing pre-encoded
HTTP/1.1 requests on asyncio streams. The targets are judged with the raw one: at concurrency 64
one httpx AsyncClient becomes the bottleneck itself. Before each request its connection pool
(httpcore) checks every idle connection with two system calls, so a server that answers many
requests at once, as a batching one does, leaves many connections idle together and the
client pays for them quadratically (measured: 7 ms of client CPU per request against a batched
server, 1.3 ms against the limit, whose answers come one by one). The table gives requests/s,
rows/s, p50 and p99 latency (ms), server CPU per request (ms, all worker processes, read from
/proc), the generator's CPU per request, and errors; the summary says whether the generator
was the bottleneck.

An overload scenario (1-row requests at concurrency 256) then compares the latency of the
answered requests without and with admission control (``--max-queue``, 503 + Retry-After past
it), beside the limit.

Targets (DESIGN.md): unbatched >= 80% of the limit's throughput; batched >= 5x the limit's
rows/s for 1-row requests at concurrency 64, with p50 at concurrency 1 within 1.2x.

Run: python bench/bench_serving.py [--small] [--seconds 5] [--workers 2] [--client httpx,raw]
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


def mloop_app(package: str, max_batch_size: int, log_dir: str, max_queue: int = 0) -> Any:
    from mloop.serving.http.app import create_app
    from mloop.serving.settings import ServingConfig

    config = ServingConfig(
        model_uri=package,
        max_batch_size=max_batch_size,
        max_wait_ms=2.0,
        poll_interval_s=0,
        log_dir=Path(log_dir),
        max_queue=max_queue,
    )
    return create_app(config)


def serve_main(kind: str, package: str, port: int, workers: int, log_dir: str) -> None:
    from mloop.serving.workers import serve_app

    if kind == "limit":
        serve_app(reference_app, (package,), host="127.0.0.1", port=port, workers=workers)
    else:
        from mloop.serving.settings import DEFAULT_BATCH_ROWS

        size = 1 if kind == "unbatched" else DEFAULT_BATCH_ROWS
        queue = BOUND_PER_WORKER if kind == "bounded" else 0
        args = (package, size, log_dir, queue)
        serve_app(mloop_app, args, host="127.0.0.1", port=port, workers=workers)


# -- load generator (another process) ----------------------------------------------------------
def load_main(
    url: str, body: bytes, concurrency: int, seconds: float, client: str, out: Any
) -> None:
    """Send ``body`` from ``concurrency`` keep-alive connections for ``seconds``; ``client`` is
    ``httpx`` (an httpx.AsyncClient) or ``raw`` (pre-encoded HTTP/1.1 over asyncio streams, a
    much cheaper client for when httpx itself is the bottleneck)."""
    latencies: list[float] = []
    errors = 0
    shed = 0  # 503 overloaded answers (admission control), retried after BACKOFF_S

    async def httpx_run(deadline: float) -> None:
        import httpx

        nonlocal errors, shed
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def worker() -> None:
                nonlocal errors, shed
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    resp = None
                    try:
                        resp = await http.post(
                            "/v2/models/bench/infer", content=body, headers=headers
                        )
                        ok = resp.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        latencies.append(time.perf_counter() - start)
                    elif resp is not None and resp.status_code == 503:
                        shed += 1
                        await asyncio.sleep(BACKOFF_S)
                    else:
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def raw_run(deadline: float) -> None:
        nonlocal errors, shed
        host, port = url.rsplit("/", 1)[1].split(":")
        request = (
            f"POST /v2/models/bench/infer HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

        async def worker() -> None:
            nonlocal errors, shed
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    writer.write(request)
                    status = await reader.readline()
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    await reader.readexactly(length)
                    if status[9:12] == b"200":
                        latencies.append(time.perf_counter() - start)
                    elif status[9:12] == b"503":
                        shed += 1
                        await asyncio.sleep(BACKOFF_S)  # told to come back later
                    else:
                        errors += 1
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def run() -> dict[str, Any]:
        began, cpu0 = time.perf_counter(), time.process_time()
        deadline = began + seconds
        await (raw_run(deadline) if client == "raw" else httpx_run(deadline))
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu0
        return {
            "latencies": latencies,
            "errors": errors,
            "shed": shed,
            "elapsed": elapsed,
            "client_cpu": cpu,
        }

    out.send(asyncio.run(run()))


def run_load(
    url: str, body: bytes, concurrency: int, seconds: float, client: str = "httpx"
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=load_main, args=(url, body, concurrency, seconds, client, child))
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
    # a file, not a pipe: a pipe nobody reads blocks the server once it fills with log lines
    stderr = Path(f"{log_dir}.stderr")
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
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
    raise SystemExit(f"{kind} server did not start: {stderr.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def measure(
    proc: subprocess.Popen, url: str, rows: int, conc: int, seconds: float, client: str
) -> dict[str, float]:
    """One scenario against one server: throughput, latency, server and client CPU."""
    body = oip_body(rows)
    cpu0 = tree_cpu_seconds(proc.pid)
    res = run_load(url, body, conc, seconds, client)
    cpu = tree_cpu_seconds(proc.pid) - cpu0
    lat = sorted(res["latencies"])
    n = len(lat)
    return {
        "req_s": n / res["elapsed"],
        "rows_s": n * rows / res["elapsed"],
        "p50": lat[n // 2] * 1000 if n else float("nan"),
        "p99": lat[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "cpu_ms": cpu * 1000 / max(n, 1),
        "client_ms": res["client_cpu"] * 1000 / max(n, 1),
        "errors": res["errors"],
        "shed": res["shed"],
    }


KINDS = ("limit", "unbatched", "batched")
OVERLOAD_KINDS = ("limit", "batched", "bounded")
"""Under overload: mloop batched without and with admission control (--max-queue)."""

OVERLOAD = (1, 256)
"""(rows per request, concurrency) of the overload scenario: well past what 2 cores serve."""

BOUND_PER_WORKER = 32
"""--max-queue of the ``bounded`` server (requests in progress per worker)."""

BACKOFF_S = 0.05
"""How long a load-generator connection waits after a 503 before sending again (s)."""


def report(
    console: Any, results: dict, scenarios: list, client: str, workers: int, seconds: float
) -> None:
    from rich.table import Table

    title = (
        f"Serving with the {client} load generator: {workers} worker(s), {seconds:g} s per "
        "scenario; limit = bare Starlette endpoint + model.predict"
    )
    table = Table(title=title)
    columns = ("server", "rows/req", "conc", "req/s", "rows/s", "p50 ms", "p99 ms")
    columns += ("server CPU ms/req", "client CPU ms/req", "errors", "req/s vs limit")
    for col in columns:
        table.add_column(col, justify="left" if col == "server" else "right")
    for rows, conc in scenarios:
        ref = results[(client, "limit", rows, conc)]
        for kind in KINDS:
            r = results[(client, kind, rows, conc)]
            table.add_row(
                kind,
                str(rows),
                str(conc),
                f"{r['req_s']:.0f}",
                f"{r['rows_s']:.0f}",
                f"{r['p50']:.2f}",
                f"{r['p99']:.2f}",
                f"{r['cpu_ms']:.2f}",
                f"{r['client_ms']:.2f}",
                str(r["errors"]),
                f"{r['req_s'] / ref['req_s']:.2f}x",
            )
        table.add_section()
    console.print(table)

    def get(kind: str, rows: int, conc: int) -> dict[str, float]:
        return results[(client, kind, rows, conc)]

    ratios = [get("unbatched", *s)["req_s"] / get("limit", *s)["req_s"] for s in scenarios]
    rows_ratio = get("batched", 1, 64)["rows_s"] / get("limit", 1, 64)["rows_s"]
    p50_ratio = get("batched", 1, 1)["p50"] / get("limit", 1, 1)["p50"]
    errors = sum(get(k, *s)["errors"] for k in KINDS for s in scenarios)
    median = statistics.median(ratios)
    summary = Table(title=f"Targets ({client} load generator)")
    for col in ("target", "measured", "met"):
        summary.add_column(col)
    summary.add_row(
        "unbatched req/s >= 0.8x limit (median of scenarios)",
        f"{median:.2f}x (min {min(ratios):.2f}x)",
        str(median >= 0.8),
    )
    summary.add_row(
        "batched rows/s, 1-row requests, conc 64 >= 5x limit",
        f"{rows_ratio:.2f}x",
        str(rows_ratio >= 5),
    )
    summary.add_row(
        "batched p50, 1-row requests, conc 1 <= 1.2x limit",
        f"{p50_ratio:.2f}x",
        str(p50_ratio <= 1.2),
    )
    summary.add_row("no request shed (errors)", str(errors), str(errors == 0))
    batched = get("batched", 1, 64)
    summary.add_row(
        "load generator not the bottleneck (batched, conc 64: client CPU/req < server's)",
        f"client {batched['client_ms']:.2f} ms, server {batched['cpu_ms']:.2f} ms",
        str(batched["client_ms"] < batched["cpu_ms"]),
    )
    console.print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1.5 s per scenario")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", default="httpx,raw", help="load generators: httpx, raw or both")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--package", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.package, args.port, args.workers, args.log_dir)
        return

    from rich.console import Console

    seconds = 1.5 if args.small else args.seconds
    clients = [c.strip() for c in args.client.split(",") if c.strip()]
    scenarios = [(rows, conc) for rows in (1, 64) for conc in (1, 8, 64)]
    console = Console(width=160)
    results: dict[tuple[str, str, int, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        package = build_package(Path(tmp) / "bench")
        kinds = dict.fromkeys((*KINDS, *OVERLOAD_KINDS))
        servers = {k: start_server(k, package, args.workers, Path(tmp) / k) for k in kinds}
        try:
            for _, url in servers.values():
                run_load(url, oip_body(1), 8, 1.0, "raw")  # warm-up
            for client in clients:
                console.print(f"{client}: {len(scenarios)} scenarios x 3 servers x {seconds:g} s")
                for rows, conc in scenarios:
                    for kind in KINDS:  # interleaved, so that drift hits every server alike
                        proc, url = servers[kind]
                        results[(client, kind, rows, conc)] = measure(
                            proc, url, rows, conc, seconds, client
                        )
                for kind in OVERLOAD_KINDS:
                    proc, url = servers[kind]
                    results[(client, kind, *OVERLOAD)] = measure(
                        proc, url, *OVERLOAD, seconds, client
                    )
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    for client in clients:
        report(console, results, scenarios, client, args.workers, seconds)
        report_overload(console, results, client)


def report_overload(console: Any, results: dict, client: str) -> None:
    """p50/p99 of the answered requests under overload, without and with --max-queue."""
    from rich.table import Table

    rows, conc = OVERLOAD
    table = Table(
        title=f"Overload ({client}): {rows}-row requests at concurrency {conc}; bounded = "
        f"--max-queue {BOUND_PER_WORKER} per worker, clients back off {BACKOFF_S * 1000:g} ms "
        "after a 503"
    )
    for col in ("server", "req/s", "p50 ms", "p99 ms", "p99 vs limit", "shed (503)", "errors"):
        table.add_column(col, justify="left" if col == "server" else "right")
    ref = results[(client, "limit", rows, conc)]
    for kind in OVERLOAD_KINDS:
        r = results[(client, kind, rows, conc)]
        table.add_row(
            kind,
            f"{r['req_s']:.0f}",
            f"{r['p50']:.2f}",
            f"{r['p99']:.2f}",
            f"{r['p99'] / ref['p99']:.2f}x",
            str(r["shed"]),
            str(r["errors"]),
        )
    console.print(table)


if __name__ == "__main__":
    main()
