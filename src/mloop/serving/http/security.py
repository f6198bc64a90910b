"""Who may call the service: an optional bearer token for inference, a separate one for admin.

Tokens are compared in constant time. A request without a token where one is needed gets 401
(with ``WWW-Authenticate: Bearer``); a wrong admin token gets 403. Without an admin token the
admin API is closed (403), so a service started without one cannot be reloaded or re-routed
over HTTP. With an inference token, ``/metrics``, ``/openapi.json`` and the model metadata
routes need it too, unless the service was started with ``public_metadata`` (health and
readiness probes stay open). The service binds
127.0.0.1 unless told otherwise; binding elsewhere without an inference token logs a warning.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from starlette.requests import Request

from mloop.errors import UnauthorizedError

__all__ = ["DEFAULT_HOST", "TokenGate", "is_loopback"]

DEFAULT_HOST = "127.0.0.1"
log = logging.getLogger("mloop.serving")


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class TokenGate:
    """Checks bearer tokens: ``token`` guards inference and feedback (None: open),
    ``admin_token`` guards reloads and traffic changes (None: admin API closed)."""

    def __init__(
        self, token: str | None, admin_token: str | None, *, public_metadata: bool = False
    ) -> None:
        self.token = token or None
        self.admin_token = admin_token or None
        self.public_metadata = public_metadata

    def check_metadata(self, request: Request) -> None:
        """Metrics, OpenAPI and model metadata: open without a token or when made public."""
        if not self.public_metadata:
            self.check_inference(request)

    def check_inference(self, request: Request) -> None:
        if self.token is None:
            return
        given = _bearer(request)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise UnauthorizedError(
                "this service requires 'Authorization: Bearer <token>' (the token it was "
                "started with, MLOOP_SERVE_TOKEN)"
            )

    def check_admin(self, request: Request) -> None:
        if self.admin_token is None:
            raise UnauthorizedError(
                "the admin API is closed; start the service with an admin token "
                "(MLOOP_SERVE_ADMIN_TOKEN) to reload models or change traffic",
                admin=True,
            )
        given = _bearer(request)
        if given is None:
            raise UnauthorizedError(
                "admin calls require 'Authorization: Bearer <admin token>' "
                "(MLOOP_SERVE_ADMIN_TOKEN)"
            )
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            raise UnauthorizedError(
                "the admin token is wrong; send the one the service was started with "
                "(MLOOP_SERVE_ADMIN_TOKEN)",
                admin=True,
            )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        log.warning(
            "serving on %s without an inference token: anyone who can reach it can call the "
            "model; set MLOOP_SERVE_TOKEN",
            host,
        )
