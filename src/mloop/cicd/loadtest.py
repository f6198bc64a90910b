"""``mloop loadtest``: how fast the prediction service answers a model's input example.

``concurrency`` asyncio workers post the package's input example (``rows`` rows, MLflow
``dataframe_split`` to ``POST /invocations``) back to back for ``duration_s`` seconds, sharing
one ``httpx.AsyncClient`` (keep-alive, one connection each) or, with ``client="raw"``, each on
its own :class:`~mloop.cicd.raw_http.RawConnection` (a fraction of the client work per
request). A request counts as an error when it fails or answers anything but 200. Reported:
QPS (answered requests per second of the measured span), p50/p99 latency (ms, client side,
from sending the request to reading the whole answer) and the error rate (errors / requests).
The first ``WARMUP_S`` seconds are not measured (connections opening, the first batches). Only
loopback targets are accepted: a load test is a tool for one's own service, not anyone else's.

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

from mloop.errors import ConfigError, ValidationError

__all__ = ["LoadBudget", "LoadResult", "check_budget", "example_payload", "run_load"]

WARMUP_S = 0.5
CLIENTS = ("httpx", "raw")
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
    client: str = "httpx",
) -> LoadResult:
    """Post ``payload`` to ``url/invocations`` from ``concurrency`` workers for
    ``duration_s`` seconds (after the warm-up) and summarize. ``client``: ``httpx`` (an
    ``httpx.AsyncClient``) or ``raw`` (:mod:`mloop.cicd.raw_http`, cheaper per request)."""
    if duration_s <= 0 or concurrency < 1:
        raise ValidationError("--duration must be positive and --concurrency at least 1")
    if client not in CLIENTS:
        raise ValidationError(f"--client {client!r} is not one of {list(CLIENTS)}")
    base = check_loopback(url)
    return asyncio.run(_load(base, payload, duration_s, concurrency, rows, client))


class _Tally:
    """Latencies and statuses of the measured span (requests started after the warm-up)."""

    def __init__(self, duration_s: float) -> None:
        self.start = time.perf_counter()
        self.measure_from = self.start + WARMUP_S
        self.stop = self.measure_from + duration_s
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors = 0

    def add(self, t0: float, t1: float, key: str, ok: bool) -> None:
        if t0 < self.measure_from:
            return
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.latencies.append((t1 - t0) * 1000.0)
        self.errors += not ok

    def result(self, base: str, concurrency: int, rows: int) -> LoadResult:
        elapsed = max(time.perf_counter() - self.measure_from, 1e-9)
        requests = len(self.latencies)
        arr = np.asarray(self.latencies)
        return LoadResult(
            url=base,
            concurrency=concurrency,
            rows=rows,
            duration_s=round(elapsed, 3),
            requests=requests,
            errors=self.errors,
            qps=(requests - self.errors) / elapsed,
            p50_ms=float(np.percentile(arr, 50)) if requests else None,
            p99_ms=float(np.percentile(arr, 99)) if requests else None,
            error_rate=self.errors / requests if requests else 1.0,
            status_counts=self.statuses,
        )


async def _load(
    base: str, payload: bytes, duration_s: float, concurrency: int, rows: int, client: str
) -> LoadResult:
    tally = _Tally(duration_s)
    if client == "raw":
        await _raw_workers(base, payload, concurrency, tally)
    else:
        await _httpx_workers(base, payload, concurrency, tally)
    return tally.result(base, concurrency, rows)


async def _httpx_workers(base: str, payload: bytes, concurrency: int, tally: _Tally) -> None:
    import httpx

    headers = {"content-type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while (t0 := time.perf_counter()) < tally.stop:
            try:
                response = await client.post("/invocations", content=payload, headers=headers)
                key, ok = str(response.status_code), response.status_code == 200
            except httpx.HTTPError as exc:
                key, ok = type(exc).__name__, False
            tally.add(t0, time.perf_counter(), key, ok)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # TCP_NODELAY: httpx writes the headers and the body separately; with Nagle's algorithm
    # the body waits for the server's delayed ACK (~40 ms on Linux) and latency is the ACK timer
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


async def _raw_workers(base: str, payload: bytes, concurrency: int, tally: _Tally) -> None:
    from mloop.cicd.raw_http import RawConnection, post_request

    parsed = urlparse(base)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    request = post_request(host, port, (parsed.path or "") + "/invocations", payload)

    async def worker() -> None:
        conn = RawConnection(host, port)
        try:
            while (t0 := time.perf_counter()) < tally.stop:
                try:
                    status = await conn.send(request)
                    key, ok = str(status), status == 200
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.TimeoutError,
                    ValueError,
                ) as exc:
                    key, ok = type(exc).__name__, False
                    await conn.close()
                tally.add(t0, time.perf_counter(), key, ok)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
