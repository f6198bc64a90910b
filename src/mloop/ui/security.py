"""Who may act: the admin token, and a CSRF token on every form that changes something.

Pages are read-only and open to anyone who can reach the port. An action (roll back or move an
alias, trigger a pipeline) needs both:

* the admin token given to ``mloop ui --admin-token`` (or ``MLOOP_UI_ADMIN_TOKEN``), sent as
  ``Authorization: Bearer TOKEN`` or ``X-Mloop-Admin-Token: TOKEN``, or remembered in an
  HttpOnly cookie after the login form (the cookie holds an HMAC of the token, not the token);
* a CSRF token: a random per-browser value in the ``mloop_csrf`` cookie that each form repeats
  in a hidden field (double submit). Another site can make the browser send the cookie, but it
  cannot read it to fill the field; the cookies are also ``SameSite=Strict``.

Without a token configured every action answers 403: the UI is then read-only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

CSRF_COOKIE = "mloop_csrf"
ADMIN_COOKIE = "mloop_admin"
CSRF_FIELD = "csrf_token"
ADMIN_HEADER = "x-mloop-admin-token"


class ActionRefused(Exception):
    """An action was refused: ``status`` 401 (who are you?) or 403 (not allowed / no CSRF)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Guard:
    """Checks admin tokens and CSRF tokens; ``admin_token`` None disables every action."""

    admin_token: str | None
    secret: bytes

    @classmethod
    def create(cls, admin_token: str | None) -> Guard:
        return cls(admin_token or None, secrets.token_bytes(32))

    @property
    def actions_enabled(self) -> bool:
        return self.admin_token is not None

    def session_value(self) -> str:
        """What the admin cookie holds: an HMAC of the token under this process's secret."""
        assert self.admin_token is not None
        return hmac.new(self.secret, self.admin_token.encode(), hashlib.sha256).hexdigest()

    def token_ok(self, token: str | None) -> bool:
        if self.admin_token is None or not token:
            return False
        return hmac.compare_digest(token.encode(), self.admin_token.encode())

    def is_admin(self, headers: dict[str, str], cookies: dict[str, str]) -> bool:
        if self.admin_token is None:
            return False
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self.token_ok(auth[7:].strip()):
            return True
        if self.token_ok(headers.get(ADMIN_HEADER)):
            return True
        cookie = cookies.get(ADMIN_COOKIE)
        if not cookie:
            return False
        return hmac.compare_digest(cookie, self.session_value())

    def check_action(
        self, headers: dict[str, str], cookies: dict[str, str], form: dict[str, str]
    ) -> None:
        """Raise :class:`ActionRefused` unless the request carries the admin token and a
        CSRF field matching its cookie."""
        if not self.actions_enabled:
            raise ActionRefused(
                403,
                "actions are disabled: this UI was started without an admin token "
                "(start it with mloop ui --admin-token TOKEN)",
            )
        if not self.is_admin(headers, cookies):
            raise ActionRefused(
                401, "this action needs the admin token: log in with it first (/login)"
            )
        self.check_csrf(cookies, form)

    @staticmethod
    def check_csrf(cookies: dict[str, str], form: dict[str, str]) -> None:
        cookie, sent = cookies.get(CSRF_COOKIE, ""), form.get(CSRF_FIELD, "")
        if not cookie or not sent or not hmac.compare_digest(cookie, sent):
            raise ActionRefused(
                403,
                "the form's CSRF token is missing or does not match this browser's; "
                "reload the page and submit the form again",
            )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
