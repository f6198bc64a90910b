"""``create_app``: the UI as a Starlette application over one project's stores.

Routes are listed once below. Errors are mapped to HTTP here and only here: a ``NotFoundError``
is a 404 page, a ``ValidationError`` (a bad filter, a missing reason) a 422, a refused action
401/403, anything else a 500 page that says what failed, never a traceback. Each response
carries ``Server-Timing: app;dur=MS``, the time the server spent on it (bench/bench_ui.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mloop.errors import (
    ConfigError,
    MloopError,
    NotFoundError,
    UnsafePathError,
    ValidationError,
)
from mloop.ui import actions, artifact_pages, registry_pages, run_pages
from mloop.ui.context import UiContext
from mloop.ui.security import ActionRefused, Guard

if TYPE_CHECKING:
    from mloop.config import Settings

STATIC = Path(__file__).parent / "static"
Handler = Callable[[UiContext, Request], Any]


def create_app(settings: Settings, *, admin_token: str | None = None) -> Starlette:
    """The UI of the project ``settings`` describe; actions need ``admin_token`` (None: the UI
    is read-only). Opens (and migrates) the metadata store now."""
    from mloop.metadata import connect
    from mloop.metadata.sql.store import SqlMetadataStore

    store = connect(settings.metadata_url)
    if not isinstance(store, SqlMetadataStore):
        raise ConfigError(
            f"mloop ui reads SQL metadata stores (sqlite, postgresql); {settings.metadata_url!r} "
            f"is a {type(store).__name__}"
        )
    ctx = UiContext(settings=settings, store=store, guard=Guard.create(admin_token))
    return build_app(ctx)


def build_app(ctx: UiContext) -> Starlette:
    """The application over an existing :class:`UiContext` (tests build their own)."""

    def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            result = handler(ctx, request)
            if hasattr(result, "__await__"):
                result = await result
            return result

        return endpoint

    def get(path: str, handler: Handler) -> Route:
        return Route(path, page(handler), methods=["GET"])

    def post(path: str, handler: Handler) -> Route:
        return Route(path, page(handler), methods=["POST"])

    routes = [
        Route("/", lambda request: RedirectResponse("/runs", status_code=307), methods=["GET"]),
        get("/experiments", run_pages.experiments),
        get("/runs", run_pages.run_list),
        get("/compare", run_pages.compare),
        get("/runs/{run_id}", run_pages.run_page),
        get("/runs/{run_id}/state.json", run_pages.run_state),
        get("/executions/{execution_id}/log", run_pages.step_log),
        get("/artifacts/{artifact_id}", artifact_pages.artifact_page),
        get("/artifacts/{artifact_id}/view", artifact_pages.artifact_view),
        get("/artifacts/{artifact_id}/download", artifact_pages.artifact_download),
        get("/artifacts/{artifact_id}/files/{path:path}", artifact_pages.artifact_file),
        get("/lineage/{ref}", artifact_pages.lineage_page),
        get("/reports", artifact_pages.reports),
        get("/models", registry_pages.models),
        get("/models/{name}", registry_pages.model_page),
        get("/models/{name}/versions/{version:int}/lineage", artifact_pages.version_lineage),
        get("/deployments", registry_pages.deployments),
        get("/deployments/live", registry_pages.deployments_live),
        get("/monitoring", registry_pages.monitoring),
        get("/controller", registry_pages.controller),
        get("/login", actions.login_form),
        post("/login", actions.login),
        post("/logout", actions.logout),
        post("/models/{name}/aliases/{alias}/rollback", actions.rollback),
        post("/models/{name}/aliases/{alias}/move", actions.move_alias),
        post("/pipelines/{pipeline}/trigger", actions.trigger),
        post("/deployments/{deployment}/approve", actions.approve_deployment),
        post("/deployments/{deployment}/reject", actions.reject_deployment),
        Route("/static/plotly.min.js", plotly_js, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            MloopError: functools.partial(_mloop_error, ctx),
            ActionRefused: functools.partial(_refused, ctx),
            Exception: functools.partial(_crash, ctx),
            HTTPException: functools.partial(_http_error, ctx),
        },
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.ui = ctx
    return ServerTiming(app)  # type: ignore[return-value]


@functools.cache
def _plotly_bytes() -> bytes:
    return (files("plotly") / "package_data" / "plotly.min.js").read_bytes()


async def plotly_js(request: Request) -> Response:
    """plotly.js from the installed ``plotly`` package: the pages never need a CDN."""
    return Response(
        _plotly_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error_page(
    ctx: UiContext, request: Request, status: int, title: str, message: str, **extra: Any
) -> Response:
    if _wants_json(request):
        return JSONResponse({"error_code": title, "message": message}, status_code=status)
    return ctx.render(
        request,
        "error.html",
        status=status,
        active="",
        title=title,
        message=message,
        **extra,
    )


async def _mloop_error(ctx: UiContext, request: Request, exc: Exception) -> Response:
    if isinstance(exc, UnsafePathError):
        status = 400
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ValidationError | ConfigError):
        status = 422
    else:
        status = 500
    return _error_page(ctx, request, status, type(exc).__name__, str(exc))


async def _refused(ctx: UiContext, request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActionRefused)
    title = "Login required" if exc.status == 401 else "Action refused"
    return _error_page(ctx, request, exc.status, title, exc.message, login=exc.status == 401)


async def _crash(ctx: UiContext, request: Request, exc: Exception) -> Response:
    message = f"{type(exc).__name__}: {exc}. This is a bug in mloop ui; please report it."
    return _error_page(ctx, request, 500, "Internal error", message)


async def _http_error(ctx: UiContext, request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error_page(ctx, request, 404, "Not found", f"no page at {request.url.path}")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return _error_page(ctx, request, exc.status_code, "Request refused", message)


class ServerTiming:
    """Adds ``Server-Timing: app;dur=MS`` (milliseconds until the response headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
