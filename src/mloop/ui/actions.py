"""The few things the UI changes: roll back or move an alias, trigger a pipeline, approve or
reject a pipeline deployment (through :mod:`mloop.cicd.promotion`, as ``mloop approve``); and
the login form that remembers the admin token. Every POST is checked by
:class:`~mloop.ui.security.Guard` (admin token AND CSRF token) before anything is read from the
form."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mloop.errors import ValidationError
from mloop.ui.context import UiContext
from mloop.ui.security import ADMIN_COOKIE, ActionRefused

if TYPE_CHECKING:
    from mloop.registry import ModelRegistry

ACTOR = "mloop-ui"
"""Who the alias history says moved an alias from the UI."""


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form (no multipart: the UI's forms are small)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def _checked(ctx: UiContext, request: Request) -> dict[str, str]:
    form = await form_of(request)
    ctx.guard.check_action(dict(request.headers), request.cookies, form)
    return form


def _reason(form: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise ValidationError("say why: the reason is kept in the alias history / trigger event")
    return reason


def _back(path: str, message: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"{path}?done={quote(message)}", status_code=303)


def login_form(ctx: UiContext, request: Request) -> Response:
    return ctx.render(request, "login.html", active="", error=None, next=_next(request))


def _next(request: Request, form: dict[str, str] | None = None) -> str:
    target = (form or {}).get("next") or request.query_params.get("next") or "/models"
    return target if target.startswith("/") and not target.startswith("//") else "/models"


async def login(ctx: UiContext, request: Request) -> Response:
    form = await form_of(request)
    ctx.guard.check_csrf(request.cookies, form)
    if not ctx.guard.actions_enabled:
        raise ActionRefused(403, "actions are disabled: start mloop ui with --admin-token TOKEN")
    if not ctx.guard.token_ok(form.get("token")):
        return ctx.render(
            request,
            "login.html",
            status=401,
            active="",
            error="That is not the admin token.",
            next=_next(request, form),
        )
    response = RedirectResponse(_next(request, form), status_code=303)
    response.set_cookie(ADMIN_COOKIE, ctx.guard.session_value(), httponly=True, samesite="strict")
    return response


async def logout(ctx: UiContext, request: Request) -> Response:
    ctx.guard.check_csrf(request.cookies, await form_of(request))
    response = RedirectResponse("/runs", status_code=303)
    response.delete_cookie(ADMIN_COOKIE)
    return response


def _registry(ctx: UiContext) -> ModelRegistry:
    from mloop.registry import ModelRegistry

    return ModelRegistry(ctx.store, ctx.artifacts)


async def rollback(ctx: UiContext, request: Request) -> Response:
    form = await _checked(ctx, request)
    name, alias = request.path_params["name"], request.path_params["alias"]
    change = _registry(ctx).rollback(name, alias, reason=_reason(form), actor=ACTOR)
    return _back(
        f"/models/{name}",
        f"{name}@{alias} rolled back: v{change.from_version} -> v{change.to_version}",
    )


async def move_alias(ctx: UiContext, request: Request) -> Response:
    form = await _checked(ctx, request)
    name, alias = request.path_params["name"], request.path_params["alias"]
    try:
        version = int(form.get("version", ""))
    except ValueError:
        raise ValidationError(f"version {form.get('version')!r} is not a number") from None
    change = _registry(ctx).set_alias(name, alias, version, reason=_reason(form), actor=ACTOR)
    before = f"v{change.from_version}" if change.from_version is not None else "unset"
    return _back(f"/models/{name}", f"{name}@{alias} moved: {before} -> v{change.to_version}")


async def trigger(ctx: UiContext, request: Request) -> Response:
    from mloop.controller.ondemand import request_run

    form = await _checked(ctx, request)
    name = request.path_params["pipeline"]
    event = request_run(ctx.store, ctx.settings, name, reason=_reason(form), kind="ui")
    return _back(
        "/controller", f"run of {name} requested (event {event.id}); the controller starts it"
    )


def _approver(form: dict[str, str]) -> str:
    who = form.get("approver", "").strip()
    if not who:
        raise ValidationError(
            "say who decides: the deployment records it, and approval: manual needs someone "
            "other than who asked"
        )
    return who[:255]


async def approve_deployment(ctx: UiContext, request: Request) -> Response:
    """``mloop approve`` from the page: the same cicd function, so the same policy refusals."""
    return await _decide(ctx, request, reject=False)


async def reject_deployment(ctx: UiContext, request: Request) -> Response:
    """``mloop approve --reject`` from the page."""
    return await _decide(ctx, request, reject=True)


async def _decide(ctx: UiContext, request: Request, *, reject: bool) -> Response:
    from mloop.cicd import promotion

    form = await _checked(ctx, request)
    act = promotion.reject if reject else promotion.approve
    # an approval runs the environment's CD gates (which may serve the model): off the loop
    result = await run_in_threadpool(
        functools.partial(
            act,
            ctx.settings.project_dir,
            request.path_params["deployment"],
            reason=_reason(form),
            actor=_approver(form),
            env=form.get("env") or None,
        )
    )
    ctx.forget_cached()
    d = result.deployment
    verb = "rejected" if reject else "approved"
    return _back(
        "/deployments",
        f"deployment {d.id[:10]} of {d.pipeline} in {result.environment} {verb} by "
        f"{d.decided_by}: {d.state.value}",
    )
