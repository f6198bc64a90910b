"""A header timeout for uvicorn's HTTP protocol: slow clients cannot hold connections open.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but gives a client all the
time it wants to send its request headers, so a few thousand clients trickling one byte a
second hold a worker's connections (slowloris). :func:`protocol_with_header_timeout` returns
uvicorn's httptools protocol with a timer: a connection whose request headers are not complete
``header_timeout_s`` seconds after it opened (or, on a kept-alive connection, after the
request's first byte) gets ``408 Request Timeout`` and is closed. The timer is only armed when
headers arrive in more than one read, so the common request costs nothing. The body has its
own timeout in :func:`mloop.serving.service.read_body`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["protocol_with_header_timeout"]

log = logging.getLogger("mloop.serving")

_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def protocol_with_header_timeout(header_timeout_s: float) -> type | None:
    """uvicorn's httptools protocol closing slow-header connections after
    ``header_timeout_s`` seconds; None when the timeout is 0 or httptools is missing."""
    if header_timeout_s <= 0:
        return None
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools ships with uvicorn[standard]
        log.warning("httptools is not installed: no header timeout against slow clients")
        return None

    body = (
        b'{"error_code":"request_timeout","message":"the request headers did not arrive within '
        + f"{header_timeout_s:g}".encode()
        + b' s"}'
    )
    answer = _TIMEOUT_ANSWER % (len(body), body)

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        """HttpToolsProtocol with a deadline on each request's headers."""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._in_headers = True  # a new connection owes its first request's headers
            self._header_timer: asyncio.TimerHandle | None = None
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers and self._header_timer is None:
                self._arm()  # headers split over several reads: start the clock

        def on_message_begin(self) -> None:
            self._in_headers = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self._in_headers or self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being answered; its own timers apply
            self.transport.write(answer)
            self.transport.close()

    return HeaderTimeoutProtocol
