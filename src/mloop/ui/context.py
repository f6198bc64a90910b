"""What every page handler needs: the stores, the guard, and a way to render a template.

Rendering sets the browser's CSRF cookie when it has none, so any page with a form can be
submitted; the same token goes into the page's hidden fields.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mloop.errors import ConfigError
from mloop.metadata.sql.engine import read_transaction
from mloop.ui.security import CSRF_COOKIE, CSRF_FIELD, Guard, new_csrf_token

if TYPE_CHECKING:
    import jinja2

    from mloop.artifacts.base import ArtifactStore
    from mloop.config import Settings
    from mloop.metadata.sql.store import SqlMetadataStore

TEMPLATES = Path(__file__).parent / "templates"
LIST_TTL_S = 5.0
"""Seconds the run list's filter drop-downs are reused before they are read again."""
T = TypeVar("T")
NAV = (
    ("runs", "/runs", "Runs"),
    ("experiments", "/experiments", "Experiments"),
    ("reports", "/reports", "Data reports"),
    ("models", "/models", "Models"),
    ("deployments", "/deployments", "Deployments"),
    ("monitoring", "/monitoring", "Monitoring"),
    ("controller", "/controller", "Triggers"),
)


@dataclass
class UiContext:
    """The UI's stores and settings; built once by :func:`mloop.ui.app.create_app`."""

    settings: Settings
    store: SqlMetadataStore
    guard: Guard
    _artifacts: ArtifactStore | None = field(default=None, repr=False)
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict, repr=False)

    @property
    def engine(self) -> sa.Engine:
        return self.store.engine

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """One read transaction: a page's queries see one consistent snapshot."""
        with read_transaction(self.engine) as conn:
            yield conn

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, remembered for :data:`LIST_TTL_S` seconds: the filter drop-downs
        (experiment and pipeline names) group 100,000 runs, and may lag a new name that long."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < LIST_TTL_S:
            return hit[1]
        value = compute()
        self._cache[key] = (now, value)
        return value

    def forget_cached(self) -> None:
        self._cache.clear()

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            from mloop.artifacts import connect

            self._artifacts = connect(self.settings.artifact_root)
        return self._artifacts

    @cached_property
    def templates(self) -> jinja2.Environment:
        try:
            import jinja2
        except ImportError:
            raise ConfigError(
                "mloop ui renders its pages with Jinja2, which is not installed: "
                "pip install 'jinja2>=3.1'"
            ) from None
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(dt=format_time, dur=format_seconds, num=format_number, short=short_id)
        return env

    def render(
        self, request: Request, template: str, *, status: int = 200, **values: Any
    ) -> HTMLResponse:
        token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        page = self.templates.get_template(template).render(
            request=request,
            nav=NAV,
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            is_admin=self.guard.is_admin(dict(request.headers), request.cookies),
            actions_enabled=self.guard.actions_enabled,
            project=self.settings.project,
            environment=self.settings.environment,
            query_with=lambda **kw: query_with(request, **kw),
            **values,
        )
        response = HTMLResponse(page, status_code=status)
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response


def query_with(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    items = [(k, v) for k, v in parse_qsl(request.url.query) if k not in changes]
    items += [(k, str(v)) for k, v in changes.items() if v is not None and v != ""]
    return "?" + urlencode(items) if items else "?"


def format_time(value: datetime | None) -> Any:
    """``2026-03-01 10:00:00`` in UTC (the pages' column headers say so), never wrapped."""
    from markupsafe import Markup  # Jinja2's own dependency

    if value is None:
        return Markup("—")
    text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return Markup('<span class="nowrap">{}</span>').format(text)


def format_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def format_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value.is_integer() and abs(value) < 1e12:
            return f"{value:.0f}"
        return f"{value:.4g}"
    return str(value)


def short_id(value: str | None) -> str:
    return "—" if not value else value[:10]
