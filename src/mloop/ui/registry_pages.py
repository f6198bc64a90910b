"""Registry and operations pages: models, one model (versions, aliases and their history,
slice comparisons from the Evaluation artifacts), deployments per environment, monitoring
reports and alerts, trigger events and controller leases."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mloop.errors import MloopError, ValidationError
from mloop.metadata.controller_state import EventState
from mloop.ui import plots, registry_queries
from mloop.ui.context import UiContext

SLICE_VERSIONS = 5  # newest versions whose evaluations the slice comparison reads
SLICE_METRICS = ("roc_auc", "accuracy", "rmse", "mae")


def models(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        found = registry_queries.model_rows(conn)
    return ctx.render(request, "models.html", active="models", models=found)


def model_page(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        detail = registry_queries.model_detail(conn, request.path_params["name"])
    slices, metric, evaluated = _slice_comparison(ctx, detail)
    return ctx.render(
        request,
        "model.html",
        active="models",
        m=detail,
        slices=slices,
        slice_metric=metric,
        evaluated=evaluated,
        figures=plots.slices(metric, slices) if metric else [],
        metric_keys=sorted({k for v in detail.versions for k in v.metrics}),
    )


def _slice_comparison(
    ctx: UiContext, detail: registry_queries.ModelDetail
) -> tuple[dict[str, dict[str, dict[int, float | None]]], str | None, list[int]]:
    """Slice column -> slice value -> version -> metric, from the newest versions' Evaluation
    artifacts (read from the artifact store; a missing one is skipped)."""
    from mloop.ui.artifact_pages import _read_json

    columns: dict[str, dict[str, dict[int, float | None]]] = {}
    metric = None
    evaluated = []
    for version in [v.version for v in detail.versions][:SLICE_VERSIONS]:
        artifact = detail.evaluations.get(version)
        if artifact is None:
            continue
        try:
            record = _read_json(ctx, artifact)
        except MloopError:
            continue
        evaluated.append(version)
        for column, groups in (record.get("slices") or {}).items():
            for key, group in groups.items():
                values = group.get("metrics") or {}
                if metric is None:
                    metric = next((m for m in SLICE_METRICS if m in values), None)
                if metric is not None:
                    columns.setdefault(column, {}).setdefault(key, {})[version] = values.get(metric)
    return columns, metric, evaluated


def _environments(ctx: UiContext) -> list[str]:
    from mloop.config import read_project_file

    names = [ctx.settings.environment]
    if ctx.settings.project_file is not None:
        names += list(read_project_file(ctx.settings.project_file).environments)
    return list(dict.fromkeys(names))


def deployments(ctx: UiContext, request: Request) -> Response:
    from mloop.components.push import alias_for_environment

    with ctx.read() as conn:
        found = registry_queries.model_rows(conn)
        deployed = registry_queries.deployment_rows(conn)
    envs: list[dict[str, Any]] = []
    for env in _environments(ctx):
        alias = alias_for_environment(env)
        envs.append(
            {
                "name": env,
                "alias": alias,
                "models": [(m.name, m.aliases.get(alias)) for m in found],
            }
        )
    covered = {e["alias"] for e in envs}
    for alias in sorted({a for m in found for a in m.aliases} - covered):
        envs.append(
            {
                "name": None,  # an alias that no environment of mloop.yaml is named after
                "alias": alias,
                "models": [(m.name, m.aliases[alias]) for m in found if alias in m.aliases],
            }
        )
    return ctx.render(
        request,
        "deployments.html",
        active="deployments",
        envs=envs,
        deployments=deployed,
        deployment_columns=registry_queries.DEPLOYMENT_COLUMNS,
        cell=_cell,
    )


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return "—" if value is None else str(value)


def monitoring(ctx: UiContext, request: Request) -> Response:
    model = request.query_params.get("model") or None
    rows = ctx.store.monitoring()
    reports = rows.list_reports(model, limit=500)
    alerts = rows.list_alerts(model, limit=200)
    by_model: dict[str, list[Any]] = {}
    for r in reports:
        by_model.setdefault(r.model, []).append(r)
    return ctx.render(
        request,
        "monitoring.html",
        active="monitoring",
        model=model,
        reports=reports[:100],
        alerts=alerts,
        figures=[plots.monitoring(name, recs) for name, recs in sorted(by_model.items())],
        models=sorted(by_model),
    )


def controller(ctx: UiContext, request: Request) -> Response:
    q = request.query_params
    state = q.get("state") or None
    if state is not None and state not in [s.value for s in EventState]:
        raise ValidationError(f"state {state!r} is not one of {[s.value for s in EventState]}")
    events = ctx.store.controller_state().list_events(
        pipeline=q.get("pipeline") or None,
        states=[EventState(state)] if state else None,
        kind=q.get("kind") or None,
        limit=200,
    )
    with ctx.read() as conn:
        leases = registry_queries.leases(conn)
    return ctx.render(
        request,
        "controller.html",
        active="controller",
        events=events,
        leases=leases,
        pipelines=sorted(ctx.settings.pipelines),
        states=[s.value for s in EventState],
        state=state,
    )
