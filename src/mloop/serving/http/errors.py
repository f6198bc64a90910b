"""The one place where mloop errors become HTTP answers.

Every error answer is ``{"error_code": ..., "message": ...}``: 400 for a body that cannot be
parsed, 401/403 for a missing or wrong token, 404 for an unknown model or route, 413 for a body
over the limit, 422 for valid JSON with wrong content (the message names the field), 503 while
no model is loaded. Bad input never gives a 500: a 500 means a bug in mloop, and its message
says so without leaking internals. A client that sends its body too slowly gets 408; one that
closes its connection mid-body is a client abort (499 ``client_closed``, counted apart, never
an error of the service); a service whose queue is full answers 503 ``overloaded`` with
``Retry-After``. A 405 names the allowed methods in ``Allow``.
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mloop.errors import MloopError, wire_status

__all__ = [
    "ClientClosedError",
    "OverloadedError",
    "RequestTimeoutError",
    "error_response",
    "exception_handlers",
    "status_of",
]

log = logging.getLogger("mloop.serving")


class ClientClosedError(MloopError):
    """The client closed its connection before its request body was complete (nobody is left
    to answer: logged as a client abort, not as a failure of the service)."""


class RequestTimeoutError(MloopError):
    """The client did not send its request body within the body timeout (seconds)."""

    def __init__(self, timeout_s: float):
        super().__init__(
            f"the request body did not arrive within {timeout_s:g} s; send it at once, or "
            "start the service with a larger --body-timeout"
        )


class OverloadedError(MloopError):
    """The service already holds its configured number of requests (``--max-queue``)."""

    def __init__(self, limit: int, retry_after_s: int = 1):
        super().__init__(
            f"the service is at its limit of {limit} requests in progress; retry after "
            f"{retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


CLIENT_CLOSED = 499
"""The status recorded (never sent: nobody listens) for a client that went away mid-request."""

_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (ClientClosedError, CLIENT_CLOSED, "client_closed"),
    (RequestTimeoutError, 408, "request_timeout"),
    (OverloadedError, 503, "overloaded"),
)


def status_of(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, error_code) for an exception: the service's own three, then the wire
    vocabulary every mloop server shares (:func:`mloop.errors.wire_status`)."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return wire_status(exc)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = "Bearer"
    if status in (408, 413):  # the rest of the body may still be on its way: do not reuse
        extra["Connection"] = "close"
    body = orjson.dumps({"error_code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=extra)


def headers_of(exc: BaseException) -> dict[str, str] | None:
    """Headers an error answer carries besides the body (``Retry-After`` when overloaded)."""
    if isinstance(exc, OverloadedError):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


def _mloop_error(request: Request, exc: Exception) -> Response:
    status, code = status_of(exc)
    if status >= 500 and code == "internal":
        log.exception("internal error on %s", request.url.path, exc_info=exc)
        return error_response(500, code, "internal error in mloop (a bug); see the server log")
    return error_response(status, code, str(exc), headers_of(exc))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(
        exc.status_code,
        code,
        f"{exc.detail}: {request.method} {request.url.path}",
        dict(exc.headers or {}),  # a 405 carries Allow
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error in mloop (a bug); see the server log")


def exception_handlers() -> dict[type[Exception] | int, object]:
    """Handlers for Starlette's ``exception_handlers=``."""
    return {MloopError: _mloop_error, HTTPException: _http_error, Exception: _unexpected}
