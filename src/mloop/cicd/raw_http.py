"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for ``mloop loadtest --client raw``.

It sends one prepared request (request line, headers and body in one write) again and again on
one connection and reads each answer (status line, headers, a ``Content-Length`` or chunked
body). It does a tenth of the work per request that a general client does (no request and
response objects, no header models, no pool), which matters when the load generator shares a
small machine's cores with the service it measures. Reconnects when the server closes.
"""

from __future__ import annotations

import asyncio
import socket

__all__ = ["RawConnection", "post_request"]


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    """The bytes of a ``POST path`` with a JSON ``body``."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


class RawConnection:
    """One keep-alive connection to ``host:port`` (opened on first use)."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def send(self, request: bytes) -> int:
        """Send ``request`` and read the whole answer; returns its status code."""
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), self.timeout_s)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif key == b"connection" and value.strip().lower() == b"close":
                close = True
        if chunked:
            await self._read_chunks()
        elif length:
            await self._reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def _read_chunks(self) -> None:
        assert self._reader is not None
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await self._reader.readexactly(size + 2)
            if size == 0:
                return

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None
