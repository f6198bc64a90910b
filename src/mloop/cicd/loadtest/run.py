"""``mloop loadtest``: how fast the prediction service answers a model's input example.

The package's input example (``rows`` rows, MLflow ``dataframe_split`` to ``POST
/invocations``) is posted back to back on ``concurrency`` keep-alive connections, one request
in flight on each, for ``duration_s`` seconds after a ``WARMUP_S`` warm-up. The default client
(``raw``) spreads the connections over one worker process per core, each an asyncio
raw-HTTP/1.1 client (:mod:`mloop.cicd.loadtest.processes`), as ``wrk`` runs a thread per core:
on a small machine shared with the service it reports wrk's QPS. ``httpx`` (one
``httpx.AsyncClient`` in this process) is kept as an independent cross-check. A request counts
as an error when it fails or answers anything but 200. Reported: QPS (answers with status 200
per second of the measured span), exact p50/p99 latency (ms, client side, from writing the
request to reading the whole answer), the error rate (errors / requests) and the count of every
status. Every request sent in the measured span is waited for and counted. Only loopback
targets are accepted: a load test is a tool for one's own service, not anyone else's.

A ``loadtest:`` budget in mloop.yaml gates the result::

    loadtest: {min_qps: 200, max_p99_ms: 50, max_error_rate: 0.0}
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

import numpy as np

from mloop.cicd.loadtest.processes import Tally
from mloop.errors import ConfigError, ValidationError

__all__ = ["LoadBudget", "LoadResult", "check_budget", "example_payload", "run_load"]

WARMUP_S = 0.5  # s
TIMEOUT_S = 30.0  # s a request may take before it counts as failed
CLIENTS = ("raw", "httpx")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LoadResult:
    """What one load test measured (times in ms, durations in s)."""

    url: str
    concurrency: int
    rows: int
    duration_s: float
    requests: int
    errors: int
    qps: float
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    status_counts: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float | None = None
    """CPU time the load generator used while loading (s; what it took from the machine)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoadBudget:
    """Limits a load test must meet; None: no limit."""

    min_qps: float | None = None
    max_p99_ms: float | None = None
    max_p50_ms: float | None = None
    max_error_rate: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadBudget:
        known = {"min_qps", "max_p99_ms", "max_p50_ms", "max_error_rate"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"loadtest: unknown key(s) {unknown}; known keys: {sorted(known)}")
        try:
            return cls(**{k: None if v is None else float(v) for k, v in data.items()})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"loadtest: every limit must be a number ({exc})") from None


def check_budget(result: LoadResult, budget: LoadBudget) -> list[str]:
    """The budget's limits ``result`` breaks, one sentence each (empty: within budget)."""
    broken = []
    if budget.min_qps is not None and result.qps < budget.min_qps:
        broken.append(f"QPS {result.qps:.1f} is below min_qps {budget.min_qps:.10g}")
    for name, value, limit in (
        ("p99", result.p99_ms, budget.max_p99_ms),
        ("p50", result.p50_ms, budget.max_p50_ms),
    ):
        if limit is not None and (value is None or value > limit):
            shown = "unknown" if value is None else f"{value:.1f} ms"
            broken.append(f"{name} latency {shown} is over max_{name}_ms {limit:.10g}")
    limit = budget.max_error_rate
    if limit is not None and result.error_rate > limit:
        broken.append(f"error rate {result.error_rate:.4f} is over max_error_rate {limit:.10g}")
    return broken


def example_payload(example: Any, rows: int) -> bytes:
    """``dataframe_split`` JSON of ``rows`` rows of the input example (repeated if short)."""
    import orjson

    if example is None or len(example) == 0:
        raise ValidationError(
            "the model package has no input example to send; save it with input_example="
        )
    frame = example.iloc[np.arange(rows) % len(example)]
    clean = frame.astype(object).where(frame.notna(), None)
    body = {"dataframe_split": {"columns": list(frame.columns), "data": clean.values.tolist()}}
    return orjson.dumps(body)


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash, if it is an http URL on the loopback interface."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK:
        raise ValidationError(
            f"--url {url!r} is not on this machine; mloop loadtest only targets 127.0.0.1"
        )
    return url.rstrip("/")


def run_load(
    url: str,
    payload: bytes,
    *,
    duration_s: float,
    concurrency: int,
    rows: int,
    client: str = "raw",
    processes: int | None = None,
    warmup_s: float = WARMUP_S,
    timeout_s: float = TIMEOUT_S,
) -> LoadResult:
    """Post ``payload`` to ``url/invocations`` on ``concurrency`` connections for
    ``duration_s`` seconds (after ``warmup_s``) and summarize. ``client``: ``raw`` (worker
    processes, :mod:`mloop.cicd.loadtest.processes`; ``processes``: how many, default one per
    core) or ``httpx`` (one ``httpx.AsyncClient`` in this process, for comparison)."""
    if duration_s <= 0 or concurrency < 1 or warmup_s < 0 or timeout_s <= 0:
        raise ValidationError(
            "--duration and the timeout must be positive, the warm-up not negative and "
            "--concurrency at least 1"
        )
    if client not in CLIENTS:
        raise ValidationError(f"--client {client!r} is not one of {list(CLIENTS)}")
    if processes is not None and processes < 1:
        raise ValidationError("--processes must be at least 1")
    base = check_loopback(url)
    if client == "httpx":
        tally = asyncio.run(
            _httpx_load(base, payload, duration_s, concurrency, warmup_s, timeout_s)
        )
    else:
        from mloop.cicd.loadtest.processes import run_processes
        from mloop.cicd.loadtest.raw_http import post_request

        parsed = urlparse(base)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        request = post_request(host, port, (parsed.path or "") + "/invocations", payload)
        tally = run_processes(
            host,
            port,
            request,
            concurrency=concurrency,
            duration_s=duration_s,
            warmup_s=warmup_s,
            timeout_s=timeout_s,
            processes=processes,
        )
    return summarize(base, concurrency, rows, tally)


def summarize(base: str, concurrency: int, rows: int, tally: Tally) -> LoadResult:
    """The result of a tally: QPS = answers with status 200 to the requests sent in the
    measured span, per second of it (with one request in flight per connection, as many are
    sent in a span as are answered: wrk's count of answers within its run, over its length;
    wrk's Requests/sec counts every answer, the same number when nothing fails); exact p50/p99
    (ms) over every measured request (failures included); error rate = failures / requests."""
    requests = int(tally.latencies_ms.size)
    elapsed = max(tally.elapsed_s, 1e-9)
    return LoadResult(
        url=base,
        concurrency=concurrency,
        rows=rows,
        duration_s=round(elapsed, 3),
        requests=requests,
        errors=tally.errors,
        qps=(requests - tally.errors) / elapsed,
        p50_ms=float(np.percentile(tally.latencies_ms, 50)) if requests else None,
        p99_ms=float(np.percentile(tally.latencies_ms, 99)) if requests else None,
        error_rate=tally.errors / requests if requests else 1.0,
        status_counts=dict(sorted(tally.statuses.items())),
        client_cpu_s=round(tally.client_cpu_s, 4),
    )


async def _httpx_load(
    base: str,
    payload: bytes,
    duration_s: float,
    concurrency: int,
    warmup_s: float,
    timeout_s: float,
) -> Tally:
    """``concurrency`` coroutines sharing one ``httpx.AsyncClient`` (keep-alive, one
    connection each); the requests sent in the measured span are counted."""
    import httpx

    headers = {"content-type": "application/json"}
    measure_from = time.monotonic() + warmup_s
    stop = measure_from + duration_s
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    last_done = stop

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, last_done
        while (t0 := time.monotonic()) < stop:
            try:
                response = await client.post("/invocations", content=payload, headers=headers)
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            t1 = time.monotonic()
            if t0 >= measure_from:
                statuses[key] = statuses.get(key, 0) + 1
                latencies.append((t1 - t0) * 1000.0)
                errors += key != "200"
                last_done = max(last_done, t1)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # TCP_NODELAY: httpx writes the headers and the body separately; with Nagle's algorithm
    # the body waits for the server's delayed ACK (~40 ms on Linux) and latency is the ACK timer
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
    timeout = httpx.Timeout(timeout_s)
    cpu_start = time.process_time()
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    cpu_s = time.process_time() - cpu_start
    latencies_ms = np.asarray(latencies, dtype=np.float64)
    return Tally(statuses, errors, latencies_ms, duration_s, last_done - stop, cpu_s)
