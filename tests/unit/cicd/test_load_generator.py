"""The default load generator of ``mloop loadtest`` (worker processes with a raw HTTP/1.1
client): its counts match what the server answered, exactly, with failures, slow answers,
closed connections and requests that never get an answer; and its response parser."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from mloop.cicd.loadtest.processes import _shares, default_processes
from mloop.cicd.loadtest.raw_http import ResponseParser, post_request
from mloop.cicd.loadtest.run import run_load
from mloop.cicd.loadtest.worker import _new_loop, sleep_until
from mloop.errors import ValidationError


@dataclass
class Served:
    """What the test server answered: status counts, connections accepted, requests seen."""

    url: str
    statuses: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    requests: int = 0


Plan = Callable[[int], tuple[int, float, bool, bool]]
"""request number -> (status, delay s, close the connection after, never answer)."""


@pytest.fixture
def server() -> Iterator[Callable[[Plan], Served]]:
    """A raw asyncio HTTP/1.1 server in a thread, answering as a ``Plan`` says."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[asyncio.AbstractServer] = []

    def start(plan: Plan) -> Served:
        served = Served("")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served.connections += 1
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    n = served.requests
                    served.requests += 1
                    status, delay, close, hang = plan(n)
                    if hang:
                        await asyncio.sleep(3600)
                    if delay:
                        await asyncio.sleep(delay)
                    body = b'{"predictions": [0]}'
                    extra = b"Connection: close\r\n" if close else b""
                    writer.write(
                        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                        b"Content-Length: %d\r\n\r\n%s" % (status, extra, len(body), body)
                    )
                    served.statuses[str(status)] += 1
                    if close:
                        await writer.drain()
                        break
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        async def open_server() -> asyncio.AbstractServer:
            return await asyncio.start_server(handle, "127.0.0.1", 0)

        srv = asyncio.run_coroutine_threadsafe(open_server(), loop).result(10)
        servers.append(srv)
        served.url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
        return served

    yield start

    async def shutdown() -> None:
        for srv in servers:
            srv.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_counts_match_what_the_server_answered(server: Callable[[Plan], Served]) -> None:
    """Every 7th answer a 500, every 5th 40 ms late: the status counts are the server's."""
    served = server(
        lambda n: (500 if n % 7 == 3 else 200, 0.04 if n % 5 == 1 else 0.0, False, False)
    )
    result = run_load(
        served.url, b"{}", duration_s=1.0, concurrency=6, rows=1, warmup_s=0.0, processes=2
    )
    assert result.requests == served.requests > 50
    assert result.status_counts == dict(served.statuses)
    assert result.errors == served.statuses["500"] > 0
    assert result.error_rate == pytest.approx(served.statuses["500"] / served.requests)
    assert result.qps == pytest.approx(served.statuses["200"] / result.duration_s, rel=0.01)
    assert result.p50_ms is not None and result.p50_ms < 40.0
    assert result.p99_ms is not None and result.p99_ms >= 40.0  # a fifth is 40 ms late
    assert served.connections == 6  # keep-alive: one connection each, never reopened
    assert result.client_cpu_s is not None and 0.0 < result.client_cpu_s < 2 * 1.5


def test_closed_connections_are_reopened_and_nothing_is_lost(
    server: Callable[[Plan], Served],
) -> None:
    served = server(lambda n: (200, 0.0, n % 3 == 0, False))
    result = run_load(
        served.url, b"{}", duration_s=0.5, concurrency=2, rows=1, warmup_s=0.0, processes=1
    )
    assert result.status_counts == {"200": served.requests} and result.errors == 0
    assert served.connections >= served.requests // 3


def test_a_request_never_answered_counts_as_a_timeout(server: Callable[[Plan], Served]) -> None:
    served = server(lambda n: (200, 0.0, False, n == 10))
    result = run_load(
        served.url,
        b"{}",
        duration_s=0.6,
        concurrency=2,
        rows=1,
        warmup_s=0.0,
        timeout_s=0.3,
        processes=1,
    )
    assert result.status_counts["TimeoutError"] == 1
    assert result.status_counts["200"] == served.statuses["200"]
    assert result.errors == 1 and result.requests == served.requests


def test_the_warm_up_is_not_measured(server: Callable[[Plan], Served]) -> None:
    served = server(lambda n: (200, 0.002, False, False))
    result = run_load(served.url, b"{}", duration_s=0.4, concurrency=2, rows=1, warmup_s=0.4)
    assert 0 < result.requests < served.requests


def test_bad_arguments_are_refused() -> None:
    for kwargs in ({"processes": 0}, {"warmup_s": -1.0}, {"timeout_s": 0.0}):
        with pytest.raises(ValidationError):
            run_load("http://127.0.0.1:1", b"{}", duration_s=1, concurrency=1, rows=1, **kwargs)


def test_connections_are_shared_over_processes() -> None:
    assert _shares(8, 3) == [3, 3, 2] and _shares(1, 1) == [1]
    assert 1 <= default_processes(1) == 1 <= default_processes(64)


def test_the_parser_reads_lengths_chunks_and_ends() -> None:
    parser = ResponseParser()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    assert parser.feed(answer[:10]) == [] and not parser.idle
    assert parser.feed(answer[10:30]) == []
    assert parser.feed(answer[30:] + answer) == [(200, False), (200, False)] and parser.idle
    assert parser.feed(answer) == [(200, False)] and parser.idle  # one whole answer
    assert parser.feed(answer[:-2]) == [] and parser.feed(answer[-2:]) == [(200, False)]
    assert parser.feed(answer + answer[:5]) == [(200, False)] and not parser.idle
    assert parser.feed(answer[5:]) == [(200, False)] and parser.idle
    chunked = (
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert [parser.feed(bytes([b])) for b in chunked][-1] == [(201, False)]
    assert parser.feed(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n") == [
        (200, False)
    ]
    closing = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    assert parser.feed(closing) == [(503, True)]
    assert parser.feed(b"HTTP/1.1 204 No Content\r\n\r\n") == [(204, False)]
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\nuntil the end") == [] and parser.eof() == (
        200,
        True,
    )
    assert parser.eof() is None
    with pytest.raises(ValueError, match="HTTP"):
        ResponseParser().feed(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_the_request_is_encoded_once_with_its_length() -> None:
    request = post_request("127.0.0.1", 8080, "/invocations", b'{"a": 1}')
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
    assert b"Content-Length: 8" in head and body == b'{"a": 1}'


def test_the_start_is_never_early_on_the_workers_event_loop() -> None:
    """uvloop's timers fire up to ~1.3 ms early (about 4 waits in 10 on this machine); a
    request sent that early was answered by the server but left out of a warm-up-free tally
    (716 counted, 717 served: a CI failure). The release waits out the remainder."""
    loop = _new_loop()

    async def lateness() -> list[float]:
        seen = []
        for i in range(60):
            when = time.monotonic() + 0.0031 + (i % 7) * 1e-4  # not a whole millisecond
            await sleep_until(when)
            seen.append(time.monotonic() - when)
        return seen

    try:
        seen = loop.run_until_complete(lateness())
    finally:
        loop.close()
    assert min(seen) >= 0.0
    assert sorted(seen)[len(seen) // 2] < 0.005  # and not needlessly late (s)
