"""The one place where mloop errors become HTTP answers.

Every error answer is ``{"error_code": ..., "message": ...}``: 400 for a body that cannot be
parsed, 401/403 for a missing or wrong token, 404 for an unknown model or route, 413 for a body
over the limit, 422 for valid JSON with wrong content (the message names the field), 503 while
no model is loaded. Bad input never gives a 500: a 500 means a bug in mloop, and its message
says so without leaking internals.
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mloop.errors import (
    InputSchemaError,
    IntegrityError,
    MloopError,
    ModelNotReadyError,
    NotFoundError,
    PayloadTooLargeError,
    RequestParseError,
    UnauthorizedError,
    ValidationError,
)

__all__ = ["error_response", "exception_handlers", "status_of"]

log = logging.getLogger("mloop.serving")

_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (RequestParseError, 400, "bad_request"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (InputSchemaError, 422, "invalid_input"),
    (ValidationError, 422, "invalid_input"),
    (UnauthorizedError, 401, "unauthorized"),
    (ModelNotReadyError, 503, "not_ready"),
    (IntegrityError, 503, "not_ready"),
    (NotFoundError, 404, "not_found"),
)


def status_of(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, error_code) for an exception; unknown ones are 500 ``internal``."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            if isinstance(exc, UnauthorizedError) and exc.admin:
                return 403, "forbidden"
            return status, code
    if isinstance(exc, MloopError):
        return 500, "internal"
    return 500, "internal"


def error_response(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = orjson.dumps({"error_code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _mloop_error(request: Request, exc: Exception) -> Response:
    status, code = status_of(exc)
    if status >= 500 and code == "internal":
        log.exception("internal error on %s", request.url.path, exc_info=exc)
        return error_response(500, code, "internal error in mloop (a bug); see the server log")
    return error_response(status, code, str(exc))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(
        exc.status_code, code, f"{exc.detail}: {request.method} {request.url.path}"
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error in mloop (a bug); see the server log")


def exception_handlers() -> dict[type[Exception] | int, object]:
    """Handlers for Starlette's ``exception_handlers=``."""
    return {MloopError: _mloop_error, HTTPException: _http_error, Exception: _unexpected}
