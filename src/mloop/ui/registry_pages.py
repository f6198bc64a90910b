"""Registry and operations pages: models, one model (versions, aliases and their history,
slice comparisons from the Evaluation artifacts), deployments per environment, monitoring
reports and alerts, trigger events and controller leases."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mloop._utils.clock import as_utc, utc_now
from mloop.errors import MloopError, ValidationError
from mloop.metadata.controller_state import EventState
from mloop.ui import plots, registry_queries, service_queries
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


def _store_engines(ctx: UiContext) -> list[tuple[tuple[str, ...], Any]]:
    """(environment names, engine) per distinct metadata store of the project's environments;
    the UI's own store first (engine None: read it in the page's own transaction)."""
    from mloop.cicd.environments import open_environment

    def resolve() -> list[tuple[tuple[str, ...], Any]]:
        by_url: dict[str, list[str]] = {ctx.settings.metadata_url: []}
        engines: dict[str, Any] = {ctx.settings.metadata_url: None}
        for env in _environments(ctx):
            if env == ctx.settings.environment:
                by_url[ctx.settings.metadata_url].append(env)
                continue
            try:
                other = open_environment(ctx.settings.project_dir, env)
                url = other.settings.metadata_url
                if url not in engines:
                    engines[url] = getattr(other.store, "engine", None)
            except MloopError:
                continue  # an environment whose store cannot be opened here is left out
            if engines[url] is None and url != ctx.settings.metadata_url:
                continue  # not a SQL store: nothing the UI can read
            by_url.setdefault(url, []).append(env)
        return [(tuple(names), engines[url]) for url, names in by_url.items()]

    return ctx.cached("environment-stores", resolve)


def _operations(ctx: UiContext, conn: Any) -> list[service_queries.StoreReading]:
    """Services, traffic changes and deployments of every environment's store."""
    now = utc_now()
    readings = []
    for names, engine in _store_engines(ctx):
        if engine is None:
            readings.append(service_queries.read_store(conn, names, now=now))
        else:
            readings.append(service_queries.read_other(engine, names, now=now))
    return readings


def _live_values(ctx: UiContext, conn: Any) -> dict[str, Any]:
    """What the live part of the deployments page shows (its polling fragment too)."""
    from mloop.components.push import alias_for_environment

    now = utc_now()
    found = registry_queries.model_rows(conn)
    readings = _operations(ctx, conn)
    services = [service_queries.service_view(s, now) for r in readings for s in r.services]
    changes = sorted((c for r in readings for c in r.changes), key=lambda c: c.at, reverse=True)[
        : service_queries.CHANGES_SHOWN
    ]
    placed: set[str] = set()
    envs: list[dict[str, Any]] = []
    for env in _environments(ctx):
        alias = alias_for_environment(env)
        mine = [
            s
            for s in services
            if s["alias"] == alias or (s["alias"] is None and s["environment"] == env)
        ]
        placed.update(s["id"] for s in mine)
        envs.append(
            {
                "name": env,
                "alias": alias,
                "models": [_model_line(m.name, m.aliases.get(alias), mine) for m in found],
                "services": mine,
            }
        )
    covered = {e["alias"] for e in envs}
    for alias in sorted({a for m in found for a in m.aliases} - covered):
        mine = [s for s in services if s["alias"] == alias and s["id"] not in placed]
        placed.update(s["id"] for s in mine)
        envs.append(
            {
                "name": None,  # an alias that no environment of mloop.yaml is named after
                "alias": alias,
                "models": [
                    _model_line(m.name, m.aliases[alias], mine) for m in found if alias in m.aliases
                ],
                "services": mine,
            }
        )
    return {
        "envs": envs,
        "other_services": [s for s in services if s["id"] not in placed],
        "changes": [service_queries.change_view(c) for c in changes],
        "unread": [(r.environments, r.error) for r in readings if r.error],
        "readings": readings,
    }


def _model_line(name: str, version: int | None, services: list[dict[str, Any]]) -> Any:
    """(model, alias version, what its running services split traffic as)."""
    splits = []
    for s in services:
        if s["model"] != name:
            continue
        text = f"{s['champion_percent']:g}% → {s['champion']}"
        if s["canary"]:
            text += f", {s['canary_percent']:g}% → {s['canary']} (canary)"
        if s["shadow"]:
            text += f", shadow {s['shadow']}"
        splits.append(text + (" (stale)" if s["stale"] else ""))
    if not splits:
        splits = [f"100% → v{version} (no running service reported)" if version else "—"]
    return name, version, splits


def deployments(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        live = _live_values(ctx, conn)
    readings = live.pop("readings")
    deployed = sorted(
        (d for r in readings for d in r.deployments),
        key=lambda d: as_utc(d["requested_at"]),
        reverse=True,
    )
    return ctx.render(
        request,
        "deployments.html",
        active="deployments",
        deployments=deployed,
        pending=[p for r in readings for p in r.pending],
        deployment_columns=registry_queries.DEPLOYMENT_COLUMNS,
        cell=_cell,
        **live,
    )


def deployments_live(ctx: UiContext, request: Request) -> Response:
    """The running services and traffic history alone: what the page polls (ui.js)."""
    with ctx.read() as conn:
        live = _live_values(ctx, conn)
    live.pop("readings")
    return ctx.render(request, "deployments_live.html", active="deployments", **live)


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
