"""A minimal HTTP/1.1 keep-alive client, for the load generator of ``mloop loadtest``.

One prepared request (request line, headers and body in one write, encoded once) is sent again
and again on a connection, one at a time (no pipelining), and each answer is read by an
incremental parser that looks at the status line and three headers only (``Content-Length``,
``Transfer-Encoding: chunked``, ``Connection: close``). The connection is an
:class:`asyncio.Protocol` driven by callbacks: no coroutine, future or response object per
request, which is what lets a Python client keep up with a C one (wrk) on a small machine whose
cores it shares with the service it measures.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from time import monotonic as _now

__all__ = ["ClientConnection", "ResponseParser", "post_request"]


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    """The bytes of a ``POST path`` with a JSON ``body``."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


class ResponseParser:
    """Splits a byte stream of HTTP/1.1 answers into (status, close) pairs, one per answer.

    ``close`` is True when the server said ``Connection: close`` or the body runs to the end
    of the connection (no length, not chunked): the connection must then be reopened."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._status = 0
        self._close = False
        self._left = -1  # body bytes still to read; -1: reading a head
        self._chunked = False
        self._until_eof = False

    def feed(self, data: bytes) -> list[tuple[int, bool]]:
        """The answers completed by ``data``. ``ValueError`` on a malformed answer."""
        buf = self._buf
        if self._left < 0 and not buf:  # the usual case: data starts with an answer's head
            end = data.find(b"\r\n\r\n")
            if end < 0:
                buf += data
                return []
            self._head(data[: end + 2])
            if len(data) - end - 4 == self._left and not (self._chunked or self._until_eof):
                self._left = -1  # exactly one whole answer: no copy into the buffer
                return [(self._status, self._close)]
            buf += memoryview(data)[end + 4 :]
        else:
            buf += data
        done: list[tuple[int, bool]] = []
        while True:
            if self._left < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return done
                self._head(bytes(buf[: end + 2]))
                del buf[: end + 4]
            if self._until_eof:
                buf.clear()
                return done
            if self._chunked:
                if not self._chunks(buf):
                    return done
            else:
                if len(buf) < self._left:
                    return done
                del buf[: self._left]
            done.append((self._status, self._close))
            self._left = -1

    def eof(self) -> tuple[int, bool] | None:
        """The answer the connection's end completes (a body read to the end), if any."""
        if self._until_eof:
            self._until_eof, self._left = False, -1
            return self._status, True
        return None

    @property
    def idle(self) -> bool:
        """No answer partly read."""
        return self._left < 0 and not self._buf

    def _head(self, head: bytes) -> None:
        if not head.startswith(b"HTTP/1.") or len(head) < 12:
            raise ValueError(f"not an HTTP/1.x answer: {head[:40]!r}")
        self._status = int(head[9:12])
        low = head.lower()
        self._close = b"\r\nconnection: close\r\n" in low
        self._chunked = False
        self._until_eof = False
        at = low.find(b"\r\ncontent-length:")
        if at >= 0:
            self._left = int(low[at + 17 : low.index(b"\r\n", at + 2)])
        elif b"\r\ntransfer-encoding:" in low and b"chunked" in low:
            self._chunked, self._left = True, 0
        elif self._status in (204, 304) or self._status < 200:
            self._left = 0
        else:
            self._until_eof, self._close, self._left = True, True, 0

    def _chunks(self, buf: bytearray) -> bool:
        """Consume whole chunks from ``buf``; True once the last (empty) one and its
        trailers are read."""
        while True:
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";")[0], 16)
            if size == 0:
                no_trailers = buf[end + 2 : end + 4] == b"\r\n"
                trailer_end = end if no_trailers else buf.find(b"\r\n\r\n", end)
                if trailer_end < 0:
                    return False
                del buf[: trailer_end + 4]
                return True
            if len(buf) < end + 2 + size + 2:
                return False
            del buf[: end + 2 + size + 2]


class ClientConnection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` whenever ``on_answer`` asks for more.

    ``on_answer(status)`` is called for every answer (``status`` an int) or failure (``status``
    the exception's class name); it returns True to send the request again. The owner reopens
    a connection after ``on_closed``."""

    def __init__(
        self,
        request: bytes,
        on_answer: Callable[[ClientConnection, int | str], bool],
        on_closed: Callable[[ClientConnection], None],
    ) -> None:
        self.request = request
        self.on_answer = on_answer
        self.on_closed = on_closed
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0  # time.monotonic() of the request in flight
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, now: float) -> None:
        """Send the request (stamped ``now``, a ``time.monotonic()``)."""
        assert self.transport is not None
        self.sent_at = now
        self.in_flight = True
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            answers = self.parser.feed(data)
        except ValueError:
            self.fail("ProtocolError")
            return
        for status, close in answers:
            self.in_flight = False
            more = self.on_answer(self, status)
            if close:
                self.close()
                return
            if more:
                self.send(_now())
            else:
                self.close()
                return

    def fail(self, reason: str) -> None:
        """Count the request in flight as failed (``reason``) and drop the connection."""
        if self.in_flight:
            self.in_flight = False
            self.on_answer(self, reason)
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort() if self.in_flight else self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        last = self.parser.eof()
        if last is not None and self.in_flight:
            self.in_flight = False
            self.on_answer(self, last[0])
        elif self.in_flight:
            self.in_flight = False
            self.on_answer(self, type(exc).__name__ if exc else "ConnectionClosed")
        self.transport = None
        self.on_closed(self)
