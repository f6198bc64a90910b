"""The Ray runner and distributed statistics on a local 2-node Ray cluster, beside their limits.

1. Fan-out: 16 independent steps of 1 s of CPU each. Ray runner vs the local runner (serial,
   and 16 threads, which the GIL serializes for pure-Python work); limit: 16 s / CPUs.
2. Statistics of 20M rows (``--small``: 2M) in 8 Parquet partitions: one Ray task per partition
   across 2 nodes vs the same partitions in one process; limit: one process / number of CPUs.
3. Per-step overhead on Ray: a chain of trivial steps through the Ray runner (each a task, a
   cache lookup, an execution row, an artifact) vs bare ``ray.remote`` calls in sequence.
4. A monitoring job over a prediction log of 4M rows (``--small``: 1M) in 8 Parquet files,
   labels for a tenth of the requests, the previous window as the reference: one Ray task per
   file vs the local job (one frame, one process); limit: the local job / number of CPUs.

Both Ray nodes run on this one machine (2 Ray nodes on one machine, sharing its cores): a
speed-up here says what the scheduling costs, not what a real cluster of 2 machines gives.

The cluster (a head and a worker, 1 CPU and 100 MB object store each, on 127.0.0.1) is started
and stopped by this script; metadata in SQLite and artifacts in a folder under a temp dir.

Run: python bench/bench_ray.py [--small] [--only monitoring]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mloop import pipeline, step
from mloop.config import Settings

FANOUT = 16
STEP_CPU_S = 1.0
CHAIN = 20  # trivial steps for the overhead figure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_args() -> list[str]:
    args = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1"]
    args += ["--object-store-memory", str(100 * 1024**2), "--disable-usage-stats"]
    for flag in (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--metrics-export-port",
        "--runtime-env-agent-port",
    ):
        args += [flag, str(_free_port())]
    return args


def start_cluster(temp_dir: str) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A head and a worker node, each in its own session (stopped by killing that group)."""
    os.environ["RAY_AUTH_MODE"] = "disabled"  # loopback only
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    port = _free_port()
    head_args = ["--head", "--port", str(port), "--include-dashboard", "false"]
    head_args += ["--ray-client-server-port", str(_free_port()), "--temp-dir", temp_dir]
    procs = []
    for args in (head_args, ["--address", f"127.0.0.1:{port}"]):
        procs.append(
            subprocess.Popen(
                [ray_bin, "start", "--block", *args, *_node_args()],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 60
        while len(procs) == 1 and not _port_open(port):
            if time.monotonic() > deadline:
                raise RuntimeError("the Ray head did not start")
            time.sleep(0.2)
    return f"127.0.0.1:{port}", procs


def stop_cluster(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- pipelines --------------------------------------------------------------------------------
def burn(seconds: float) -> int:
    """Pure-Python CPU work for ``seconds`` of this thread's CPU time (holds the GIL, as much
    user code does; on a shared machine the wall time can be longer)."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


@step(cache=False)
def busy(i: int, seconds: float) -> int:
    return burn(seconds) * 0 + i


@pipeline
def fanout(n: int = FANOUT, seconds: float = STEP_CPU_S):
    for i in range(n):
        busy(i, seconds)


@step(cache=False)
def idle(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


@pipeline
def fanout_idle(n: int = FANOUT, seconds: float = STEP_CPU_S):
    """The same fan-out with 1 s waits: the scheduling, free of CPU contention on a shared box."""
    for i in range(n):
        idle(i, seconds)


@step(cache=False)
def inc(x: int) -> int:
    return x + 1


@pipeline
def chain(n: int = CHAIN):
    x = inc(0)
    for _ in range(n - 1):
        x = inc(x)


def _settings(root: Path, runner: dict) -> Settings:
    return Settings(
        project_dir=root,
        project="bench",
        environment="dev",
        metadata_url=f"sqlite:///{root / 'mloop.db'}",
        artifact_root=str(root / "artifacts"),
        runner=runner,
    )


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def write_partitions(folder: Path, rows: int, parts: int = 8) -> None:
    import numpy as np
    import polars as pl

    per = rows // parts
    for i in range(parts):
        rng = np.random.default_rng(i)
        pl.DataFrame(
            {
                "x": rng.normal(0, 1, per),
                "n": rng.integers(0, 1000, per),
                "k": rng.choice(["a", "b", "c", "d", "e"], per),
            }
        ).write_parquet(folder / f"part-{i:02d}.parquet")


MONITOR_END = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # the window: [14:00, 15:00)


def write_prediction_log(root: Path, rows: int, hour: int, parts: int, seed: int) -> None:
    """``parts`` prediction-log files of ``rows`` rows in all (the serving log's columns, 4
    rows a request, 2% null incomes) in hour ``hour`` of MONITOR_END's day, and feedback for a
    tenth of the requests."""
    import numpy as np
    import polars as pl

    per = rows // parts
    start = MONITOR_END.replace(hour=hour)
    folder = root / "predictions" / "m" / f"date={start:%Y-%m-%d}" / f"hour={hour:02d}"
    labels = root / "feedback" / "m" / f"date={start:%Y-%m-%d}" / f"hour={hour:02d}"
    folder.mkdir(parents=True)
    labels.mkdir(parents=True)
    for i in range(parts):
        rng = np.random.default_rng(seed + i)
        income = rng.normal(50 + 2 * seed, 10, per)
        income[rng.random(per) < 0.02] = np.nan
        p = 1 / (1 + np.exp(-(income - 50) / 10))
        request = np.arange(per) // 4
        frame = pl.DataFrame(
            {
                "request_id": [f"{seed}-{i}-{r}" for r in request],
                "row": (np.arange(per) % 4).astype(np.int32),
                "timestamp": np.datetime64(start.replace(tzinfo=None), "ms")
                + np.sort(rng.integers(0, 3_600_000, per)).astype("timedelta64[ms]"),
                "model": "m",
                "version": "1",
                "route": np.where(rng.random(per) < 0.05, "canary", "champion"),
                "latency_ms": np.repeat(rng.gamma(2.0, 3.0, per // 4 + 1), 4)[:per],
                "income": income,
                "age": rng.integers(18, 90, per),
                "city": rng.choice(["paris", "lyon", "nice", "lille"], per),
                "prediction": (p > 0.5).astype(np.int64),
                "prediction_proba": np.stack([1 - p, p], axis=1).tolist(),
            }
        ).with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
        frame.write_parquet(folder / f"part-{i:02d}.parquet", compression="zstd")
        sent = frame.filter(pl.col("request_id").hash(seed) % 10 == 0)
        sent.select(
            "request_id",
            "row",
            label=(pl.col("prediction") ^ (pl.col("latency_ms") > 12).cast(pl.Int64)),
            timestamp=pl.col("timestamp") + pl.duration(minutes=1),
        ).write_parquet(labels / f"part-{i:02d}.parquet")


def bench_monitoring(temp: Path, rows: int, cpus: int) -> list[tuple[str, str, str, str]]:
    """Section 4: the local monitoring job vs the same job on Ray, one task per log file."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.metadata import connect
    from mloop.monitoring.jobs import compute_report
    from mloop.monitoring.on_ray import ray_mapper
    from mloop.monitoring.partitioned import compute_partitioned_report
    from mloop.monitoring.windows import LogWindow

    log = temp / "log"
    write_prediction_log(log, rows, 14, 8, seed=1)
    write_prediction_log(log, rows // 4, 13, 2, seed=0)  # the previous window: the reference
    store = connect(f"sqlite:///{temp / 'monitor.db'}")
    artifacts = connect_artifacts(str(temp / "monitor-artifacts"))
    window = LogWindow.ending("m", timedelta(hours=1), MONITOR_END)
    mapper = ray_mapper()

    def on_ray() -> object:
        return compute_partitioned_report(
            store, artifacts, log, window, mapper=mapper, group_bytes=1
        )

    on_ray()  # warm the workers (imports)
    local_s = timed(lambda: compute_report(store, artifacts, log, window))
    ray_s = timed(on_ray)
    local, got = compute_report(store, artifacts, log, window), on_ray()
    exact = ("num_rows", "num_requests", "requests", "labelled_rows", "metrics", "latency_ms")
    same = all(getattr(local, k) == getattr(got, k) for k in exact)
    assert local.drift is not None and got.drift is not None
    drift_gap = max(
        abs(a.score - b.score)
        for a, b in zip(local.drift.features, got.drift.features, strict=True)
    )
    limit = local_s / cpus
    return [
        (
            f"monitoring job {rows / 1e6:.0f}M rows, 8 files: limit (local / CPUs)",
            f"{limit:.2f} s",
            "1.00x",
            "",
        ),
        (
            "  local job (one frame)",
            f"{local_s:.2f} s",
            f"{local_s / limit:.2f}x",
            f"{rows / local_s / 1e6:.1f} M rows/s",
        ),
        (
            "  on Ray, 8 tasks, 2 Ray nodes on one machine",
            f"{ray_s:.2f} s",
            f"{ray_s / limit:.2f}x",
            f"Ray / local {ray_s / local_s:.2f}; counts, requests, metrics, latency equal: {same};"
            f" largest drift score gap {drift_gap:.2g} (sketch merge)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="2M rows instead of 20M")
    parser.add_argument("--only", choices=["monitoring"], help="run only that section")
    args = parser.parse_args()
    import ray

    from mloop.components.statistics_ray import compute_statistics_on_ray
    from mloop.data.partitioned import compute_partitioned_statistics

    rows = 2_000_000 if args.small else 20_000_000
    temp = Path(tempfile.mkdtemp(prefix="rb", dir="/tmp"))
    address, procs = start_cluster(str(temp / "ray"))
    results: list[tuple[str, str, str, str]] = []
    try:
        ray.init(address=address, log_to_driver=False, _node_ip_address="127.0.0.1")
        while len([n for n in ray.nodes() if n.get("Alive")]) < 2:
            time.sleep(0.2)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        os.chdir(temp)
        results += bench_monitoring(temp, 1_000_000 if args.small else 4_000_000, cpus)
        if args.only == "monitoring":
            _print(results)
            return

        # 1. fan-out
        ray_s = timed(lambda: fanout.run_with({}, settings=_settings(temp / "a", {"type": "ray"})))
        local_s = timed(lambda: fanout.run_with({}, settings=_settings(temp / "b", {})))
        threads_s = timed(
            lambda: fanout.run_with({}, settings=_settings(temp / "c", {}), parallel=FANOUT)
        )
        idle_ray = timed(
            lambda: fanout_idle.run_with({}, settings=_settings(temp / "f", {"type": "ray"}))
        )
        idle_local = timed(lambda: fanout_idle.run_with({}, settings=_settings(temp / "g", {})))
        limit = FANOUT * STEP_CPU_S / cpus
        results += [
            ("fan-out 16 x 1 s CPU: limit (16 s / CPUs)", f"{limit:.2f} s", "1.00x", ""),
            ("  Ray runner (2 nodes)", f"{ray_s:.2f} s", f"{ray_s / limit:.2f}x", ""),
            ("  local runner, serial", f"{local_s:.2f} s", f"{local_s / limit:.2f}x", ""),
            ("  local runner, 16 threads", f"{threads_s:.2f} s", f"{threads_s / limit:.2f}x", ""),
            (
                "  speed-up Ray / local serial",
                f"{local_s / ray_s:.2f}x",
                "",
                f"ideal {cpus}x; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            ),
            (
                "fan-out 16 x 1 s wait: Ray runner",
                f"{idle_ray:.2f} s",
                f"{idle_ray / limit:.2f}x",
                "",
            ),
            (
                "  local runner, serial",
                f"{idle_local:.2f} s",
                f"{idle_local / limit:.2f}x",
                f"speed-up {idle_local / idle_ray:.2f}x (ideal {cpus}x)",
            ),
        ]

        # 2. statistics by partition
        data = temp / "data"
        data.mkdir()
        write_partitions(data, rows)
        compute_statistics_on_ray(data)  # warm the workers (imports)
        one_s = timed(lambda: compute_partitioned_statistics(data))
        on_ray_s = timed(lambda: compute_statistics_on_ray(data))
        same = compute_statistics_on_ray(data).to_dict() == (
            compute_partitioned_statistics(data).to_dict()
        )
        results += [
            (
                f"statistics {rows / 1e6:.0f}M rows, 8 partitions: one process",
                f"{one_s:.2f} s",
                "",
                f"{rows / one_s / 1e6:.1f} M rows/s",
            ),
            (
                "  on Ray, 2 Ray nodes on one machine",
                f"{on_ray_s:.2f} s",
                f"{one_s / on_ray_s:.2f}x faster",
                f"limit 1x on one machine (one process already uses every core), "
                f"{cpus}x on {cpus} machines; equal to the one-process merge: {same}",
            ),
        ]

        # 3. per-step overhead
        settings = _settings(temp / "d", {"type": "ray"})
        chain.run_with({}, settings=settings)  # warm
        chain_s = timed(lambda: chain.run_with({}, settings=settings))

        @ray.remote
        def bare(x: int) -> int:
            return x + 1

        ray.get(bare.remote(0))

        def bare_chain() -> None:
            x = 0
            for _ in range(CHAIN):
                x = ray.get(bare.remote(x))

        bare_s = timed(bare_chain)
        local_settings = _settings(temp / "e", {})
        chain.run_with({}, settings=local_settings)  # warm
        local_chain_s = timed(lambda: chain.run_with({}, settings=local_settings))
        per_step, per_task = chain_s / CHAIN * 1000, bare_s / CHAIN * 1000
        per_local = local_chain_s / CHAIN * 1000
        results += [
            (
                f"per step, chain of {CHAIN}: bare ray.remote (limit)",
                f"{per_task:.1f} ms",
                "1.00x",
                "",
            ),
            (
                "  Ray runner step",
                f"{per_step:.1f} ms",
                f"{per_step / per_task:.1f}x",
                f"overhead {per_step - per_task:.1f} ms/step",
            ),
            (
                "  local runner step (same bookkeeping, no Ray)",
                f"{per_local:.1f} ms",
                f"{per_local / per_task:.1f}x",
                f"Ray adds {per_step - per_local:.1f} ms/step",
            ),
        ]
    finally:
        if ray.is_initialized():
            ray.shutdown()
        stop_cluster(procs)
        shutil.rmtree(temp, ignore_errors=True)

    _print(results)


def _print(results: list[tuple[str, str, str, str]]) -> None:
    title = (
        "Ray runner, distributed statistics and monitoring (2 Ray nodes on one machine, 1 CPU each)"
    )
    table = Table(title=title)
    for column in ("case", "time", "ratio", "note"):
        table.add_column(column, justify="left" if column in ("case", "note") else "right")
    for row in results:
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
