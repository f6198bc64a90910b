"""The inference routes, dispatched before Starlette's middleware stack and route scan.

A prediction request is the one request a service answers thousands of times a second; going
through Starlette's error middleware, exception middleware, the scan of every route and the
endpoint wrapper cost about a tenth of a batched service's CPU per request. The prediction
handler answers every error itself (see :meth:`PredictionService.predict`), so those layers
add nothing on these routes. :class:`ServingApp` sends POSTs whose path matches an inference
route straight to its handler, and everything else (and every other method) to Starlette.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mloop.serving.http.errors import error_response

__all__ = ["FastRoute", "ServingApp"]

log = logging.getLogger("mloop.serving")

Handler = Callable[[Request], Awaitable[Response]]


class FastRoute:
    """A POST route: ``path`` in Starlette's ``{param}`` syntax (one path segment each)."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.regex = re.compile(f"{pattern}")

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        return None if found is None else found.groupdict()


class ServingApp(Starlette):
    """Starlette, with ``fast_routes`` answered ahead of its middleware (POST only)."""

    def __init__(self, *, fast_routes: Sequence[FastRoute] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_routes = tuple(fast_routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            for route in self.fast_routes:
                params = route.match(path)
                if params is not None:
                    scope["app"] = self
                    scope["path_params"] = params
                    response = await self._answer(route, Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    @staticmethod
    async def _answer(route: FastRoute, request: Request) -> Response:
        try:
            return await route.handler(request)
        except Exception:  # the handler answers errors itself; this is a bug in mloop
            log.exception("unexpected error on %s", route.path)
            return error_response(
                500, "internal", "internal error in mloop (a bug); see the server log"
            )
