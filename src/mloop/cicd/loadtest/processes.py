"""The default load generator of ``mloop loadtest``: several worker processes
(:mod:`mloop.cicd.loadtest.worker`), started together and merged into one tally.

Why processes: on a small machine the client shares the cores with the service it measures;
one Python thread gets one scheduler share against the service's processes and becomes the
bottleneck (0.44x of wrk's QPS on a loaded 2-core machine), while ``wrk -t 2`` runs a thread
per core. Every process opens its connections first, then all start at one shared
``time.monotonic()`` instant, so the measured span is the same for all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mloop._utils.processes import stop_child
from mloop.cicd.loadtest.worker import WorkerPlan
from mloop.errors import ValidationError

__all__ = ["Tally", "default_processes", "run_processes"]

START_MARGIN_S = 0.02  # between the start signal and the start time (s)
WORKER = "mloop.cicd.loadtest.worker"


@dataclass(frozen=True)
class Tally:
    """What the measured span saw: answers by status (or failure name), failures (all but
    200), latencies (ms, one per answer or failure) of the requests sent in it, its length
    (s), how long the last of them took to answer after its end (s), and the CPU time the
    load generator used meanwhile (s, all its processes; start-up not included)."""

    statuses: dict[str, int]
    errors: int
    latencies_ms: np.ndarray
    elapsed_s: float
    drain_s: float = 0.0
    client_cpu_s: float = 0.0


def default_processes(concurrency: int) -> int:
    """One worker process per core, never more than connections."""
    return max(1, min(os.cpu_count() or 1, concurrency))


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def run_processes(
    host: str,
    port: int,
    request: bytes,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    timeout_s: float,
    processes: int | None = None,
) -> Tally:
    """Send ``request`` on ``concurrency`` connections spread over ``processes`` worker
    processes for ``warmup_s`` + ``duration_s`` seconds; the tally of the measured span."""
    count = min(processes or default_processes(concurrency), concurrency)
    path = os.pathsep.join(filter(None, [_src(), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    with tempfile.TemporaryDirectory(prefix="mloop-loadtest-") as name:
        tmp = Path(name)
        (tmp / "request").write_bytes(request)
        procs: list[subprocess.Popen[bytes]] = []
        plans = []
        logs = []
        try:
            for i, connections in enumerate(_shares(concurrency, count)):
                plan = WorkerPlan(
                    host=host,
                    port=port,
                    request_file=str(tmp / "request"),
                    connections=connections,
                    warmup_s=warmup_s,
                    duration_s=duration_s,
                    timeout_s=timeout_s,
                    out=str(tmp / f"worker{i}.out"),
                )
                (tmp / f"plan{i}.json").write_text(plan.to_json(), encoding="utf-8")
                plans.append(plan)
                logs.append(open(tmp / f"worker{i}.err", "wb"))
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", WORKER, str(tmp / f"plan{i}.json")],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=logs[-1],
                        env=env,
                    )
                )
            for i, proc in enumerate(procs):
                _expect(proc, b"ready", tmp / f"worker{i}.err")
            start_at = time.monotonic() + START_MARGIN_S
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"{start_at!r}\n".encode())
                proc.stdin.flush()
            for i, proc in enumerate(procs):
                _expect(proc, b"done", tmp / f"worker{i}.err")
                proc.wait(timeout=10)
        finally:
            for proc in procs:
                stop_child(proc, grace_s=2.0)
                for stream in (proc.stdin, proc.stdout):
                    if stream is not None:
                        stream.close()
            for log in logs:
                log.close()
        return _merge(plans, start_at + warmup_s, duration_s)


def _src() -> str:
    """The folder holding this ``mloop`` package, so that workers import the same code."""
    return str(Path(__file__).resolve().parents[2])


def _expect(proc: subprocess.Popen[bytes], word: bytes, errors: Path) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != word:
        proc.wait(timeout=10)
        tail = errors.read_text(encoding="utf-8", errors="replace").strip()[-800:]
        raise ValidationError(f"a load-generator process failed ({line!r}): {tail}")


def _merge(plans: list[WorkerPlan], measure_from: float, duration_s: float) -> Tally:
    import json

    statuses: dict[str, int] = {}
    errors = 0
    last_done = measure_from + duration_s
    cpu_s = 0.0
    latencies = []
    for plan in plans:
        out = Path(plan.out)
        summary = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        for key, n in summary["statuses"].items():
            statuses[key] = statuses.get(key, 0) + int(n)
        errors += int(summary["errors"])
        last_done = max(last_done, float(summary["last_done"]))
        cpu_s += float(summary["cpu_s"])
        latencies.append(np.fromfile(out.with_suffix(".lat"), dtype=np.float64))
    merged = np.concatenate(latencies) * 1000.0 if latencies else np.empty(0)
    drain_s = last_done - (measure_from + duration_s)
    return Tally(statuses, errors, merged, duration_s, drain_s, cpu_s)
