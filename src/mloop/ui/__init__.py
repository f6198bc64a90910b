"""The web UI (``mloop ui``): runs, lineage, data reports, registry, deployments, monitoring.

Server-rendered pages (Starlette + Jinja2) over the metadata store, with plotly.js served from
the installed ``plotly`` package and a few lines of vanilla JavaScript for the live parts: it
works offline and needs no Node build. Read-mostly; the few actions need the admin token and a
CSRF token (:mod:`mloop.ui.security`). See docs/ui.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mloop.ui.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mloop.ui.app import create_app

        return create_app
    raise AttributeError(name)
