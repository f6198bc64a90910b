"""One load-generator process of ``mloop loadtest`` (``python -m mloop.cicd.loadtest.worker PLAN``).

:func:`mloop.cicd.loadtest.run.run_load` starts several of these (one per core, as ``wrk -t``
runs one thread per core) so that the client is not one Python thread competing with the
service's processes for the machine. Each opens its share of the connections, says ``ready``
on stdout, waits for the start time (a ``time.monotonic()``, shared by every process on the
machine) on stdin, then keeps one request in flight per connection (keep-alive, no pipelining,
:mod:`mloop.cicd.loadtest.raw_http`) until the stop time. The requests *sent* in the measured span
(after the warm-up, before the stop) are all waited for (up to the timeout) and counted: status
counts, latencies (s, from writing the request to reading the whole answer), the time of the
last answer and the process's CPU time while loading go to ``PLAN.out`` (``.json`` and
``.lat``, raw float64) for the parent to merge.
Only the standard library (and uvloop when installed) is imported: it starts fast.
"""

from __future__ import annotations

import asyncio
import json
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from time import monotonic, process_time, sleep

from mloop.cicd.loadtest.raw_http import ClientConnection

__all__ = ["WorkerPlan", "main", "sleep_until"]

RETRY_S = 0.01  # pause after a failed connect (s), so a dead target is not a busy loop
SWEEP_S = 0.1  # how often requests are checked against the timeout (s)
_KEYS: dict[int | str, str] = {code: str(code) for code in range(100, 600)}


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process does (times in s)."""

    host: str
    port: int
    request_file: str
    connections: int
    warmup_s: float
    duration_s: float
    timeout_s: float
    out: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


class _Worker:
    """Connections, their answers, and the tally of the measured span."""

    def __init__(self, plan: WorkerPlan, request: bytes) -> None:
        self.plan = plan
        self.request = request
        self.measure_from = float("inf")
        self.stop = float("inf")
        self.latencies = array("d")
        self.statuses: dict[str, int] = {}
        self.errors = 0
        self.last_done = 0.0
        self.cpu_s = 0.0  # this process's CPU time (s) from the start to the last answer
        self.live: set[ClientConnection] = set()
        self.tried = 0  # connections whose first connect was tried

    def answered(self, conn: ClientConnection, status: int | str) -> bool:
        """Count one answer (or failure) of ``conn``; True to send the next request."""
        now = monotonic()
        self.record(conn.sent_at, now, status)
        return now < self.stop

    def record(self, sent: float, now: float, status: int | str) -> None:
        """Count a request sent at ``sent`` unless it was sent during the warm-up. (No
        request is sent once the stop time has been seen; one stamped a moment after it, by
        the decision taken just before, still counts: the server answered it.)"""
        if sent < self.measure_from:
            return
        key = _KEYS.get(status) or str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.latencies.append(now - sent)
        self.errors += status != 200
        if now > self.last_done:
            self.last_done = now

    async def connect(self, closed: asyncio.Future[None]) -> ClientConnection:
        loop = asyncio.get_running_loop()

        def gone(conn: ClientConnection) -> None:
            self.live.discard(conn)
            if not closed.done():
                closed.set_result(None)

        _, conn = await asyncio.wait_for(
            loop.create_connection(
                lambda: ClientConnection(self.request, self.answered, gone),
                self.plan.host,
                self.plan.port,
            ),
            self.plan.timeout_s,
        )
        self.live.add(conn)
        return conn

    async def slot(self, go: asyncio.Event) -> None:
        """One connection's life: opened before the start, reopened when the server closes
        it, until the stop time."""
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        conn: ClientConnection | None = None
        try:
            conn = await self.connect(closed)
        except (OSError, asyncio.TimeoutError):
            conn = None  # retried (and counted) once the test runs
        self.tried += 1
        await go.wait()
        while monotonic() < self.stop:
            if conn is not None and conn.transport is None:
                conn = None  # the server closed it while it waited for the start
            if conn is None:
                closed = loop.create_future()
                started = monotonic()
                try:
                    conn = await self.connect(closed)
                except (OSError, asyncio.TimeoutError) as exc:
                    self.record(started, monotonic(), type(exc).__name__)
                    await asyncio.sleep(RETRY_S)
                    continue
            if conn.transport is None:  # closed by the server before it was used
                conn = None
                await asyncio.sleep(RETRY_S)
                continue
            conn.send(monotonic())
            await closed
            conn = None

    async def sweep(self) -> None:
        """Fail the requests older than the timeout (the server never answered them)."""
        while True:
            await asyncio.sleep(SWEEP_S)
            limit = monotonic() - self.plan.timeout_s
            for conn in list(self.live):
                if conn.in_flight and conn.sent_at < limit:
                    conn.fail("TimeoutError")

    async def release(
        self, slots: list[asyncio.Future[None]], go: asyncio.Event, start_at: float
    ) -> None:
        """Release the connections at ``start_at`` (a ``time.monotonic()``) and wait for
        every one to finish."""
        await sleep_until(start_at)
        self.measure_from = start_at + self.plan.warmup_s
        self.stop = self.measure_from + self.plan.duration_s
        go.set()
        sweeper = asyncio.ensure_future(self.sweep())
        cpu_start = process_time()
        try:
            await asyncio.gather(*slots)
            self.cpu_s = process_time() - cpu_start
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)

    def write(self) -> None:
        out = Path(self.plan.out)
        with open(out.with_suffix(".lat"), "wb") as f:
            self.latencies.tofile(f)
        summary = {
            "statuses": self.statuses,
            "errors": self.errors,
            "last_done": self.last_done,
            "cpu_s": self.cpu_s,
        }
        out.with_suffix(".json").write_text(json.dumps(summary), encoding="utf-8")


async def sleep_until(when: float) -> None:
    """Return once ``time.monotonic()`` has reached ``when`` (s), never before.

    Why: uvloop's timers have millisecond granularity and fire up to ~1.3 ms early, so a
    connection released by ``asyncio.sleep`` alone could send a request stamped before the
    start. With no warm-up that request would be left out of the tally although the server
    answered it. The last fraction of a millisecond is slept in the thread: nothing else is
    due on the loop before the start."""
    await asyncio.sleep(max(0.0, when - monotonic()))
    left = when - monotonic()
    if left > 0:
        sleep(left)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(plan_file: str) -> int:
    """Run the plan in ``plan_file``: connect, say ready, wait for the start time, load."""
    plan = WorkerPlan(**json.loads(Path(plan_file).read_text(encoding="utf-8")))
    worker = _Worker(plan, Path(plan.request_file).read_bytes())
    loop = _new_loop()
    try:
        go = asyncio.Event()
        slots: list[asyncio.Future[None]] = []

        async def connect_all() -> None:
            slots.extend(asyncio.ensure_future(worker.slot(go)) for _ in range(plan.connections))
            while worker.tried < plan.connections:
                await asyncio.sleep(0.002)

        loop.run_until_complete(connect_all())
        print("ready", flush=True)
        line = sys.stdin.readline()
        if not line.strip():
            return 2  # the parent went away
        loop.run_until_complete(worker.release(slots, go, float(line)))
        worker.write()
    finally:
        loop.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m mloop.cicd.loadtest.worker PLAN_JSON", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
