"""The run pages: experiments, the run list, the comparison of runs, one run with its DAG,
timings, logs, params, metrics and artifacts, and the JSON the run page polls while it runs."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mloop.errors import ArtifactNotFoundError, ValidationError
from mloop.metadata.entities import EventKind, Run, RunState
from mloop.ui import plots, run_queries
from mloop.ui.context import UiContext
from mloop.ui.dag import build_dag

SORTS = ("started_at", "ended_at")
LOG_LIMIT = 200_000  # characters of a step log shown in the page (the file downloads whole)


def _state(value: str | None) -> RunState | None:
    if not value:
        return None
    try:
        return RunState(value)
    except ValueError:
        raise ValidationError(
            f"state {value!r} is not one of {[s.value for s in RunState]}"
        ) from None


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        raise ValidationError(f"page {value!r} is not a number") from None


def all_params(run: Run, logged: dict[str, str]) -> dict[str, str]:
    """A pipeline run's parameters and the params it logged (these win), as text."""
    merged = {k: v if isinstance(v, str) else json.dumps(v) for k, v in run.pipeline_params.items()}
    return {**merged, **logged}


def experiments(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        found = run_queries.experiments(conn)
    return ctx.render(request, "experiments.html", active="experiments", experiments=found)


def run_list(ctx: UiContext, request: Request) -> Response:
    q = request.query_params
    order = q.get("sort") or "started_at"
    if order not in SORTS and not order.startswith("metric:"):
        raise ValidationError(f"sort {order!r}: use started_at, ended_at or metric:KEY")
    f = run_queries.RunFilter(
        experiment=q.get("experiment") or None,
        pipeline=q.get("pipeline") or None,
        state=_state(q.get("state")),
        order_by=order,
        descending=q.get("order", "desc") != "asc",
        page=_page_number(q.get("page")),
        columns=tuple(k.strip() for k in (q.get("metrics") or "").split(",") if k.strip())[:12],
    )
    with ctx.read() as conn:
        page = run_queries.run_page(conn, f)
        names = ctx.cached(
            "experiments", lambda: [e["name"] for e in run_queries.experiments(conn)]
        )
        pipelines = ctx.cached("pipelines", lambda: run_queries.pipeline_names(conn))
    sort_keys = list(SORTS) + [f"metric:{k}" for k in page.metric_keys]
    if order not in sort_keys:
        sort_keys.append(order)
    return ctx.render(
        request,
        "runs.html",
        active="runs",
        page=page,
        filter=f,
        experiment_names=names,
        pipeline_names=pipelines,
        states=[s.value for s in RunState],
        sort_keys=sort_keys,
    )


def compare(ctx: UiContext, request: Request) -> Response:
    ids: list[str] = []
    for value in request.query_params.getlist("run"):
        ids.extend(v.strip() for v in value.split(",") if v.strip())
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2:
        raise ValidationError(
            "compare needs two runs or more: tick them in the run list, or /compare?run=A&run=B"
        )
    if len(ids) > run_queries.MAX_COMPARE:
        raise ValidationError(f"compare shows at most {run_queries.MAX_COMPARE} runs at once")
    with ctx.read() as conn:
        found = run_queries.runs_by_id(conn, ids)
        real = [r.id for r in found]
        logged = run_queries.params_of(conn, real)
        latest = run_queries.latest_of(conn, real)
        history = run_queries.history_of(conn, real)
    params = {r.id: all_params(r, logged[r.id]) for r in found}
    param_keys = sorted({k for p in params.values() for k in p})
    metric_keys = sorted({k for m in latest.values() for k in m})
    return ctx.render(
        request,
        "compare.html",
        active="runs",
        runs=found,
        params=params,
        latest=latest,
        param_keys=param_keys,
        metric_keys=metric_keys,
        differs={k: len({params[r].get(k) for r in real}) > 1 for k in param_keys},
        figures=plots.metric_history(found, history),
    )


def run_page(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        detail = run_queries.run_detail(conn, request.path_params["run_id"])
    dag = build_dag(detail.spec, detail.executions, detail.events)
    by_execution: dict[str, dict[str, list[Any]]] = {}
    for ev in detail.events:
        side = "inputs" if ev.kind is EventKind.INPUT else "outputs"
        slot = by_execution.setdefault(ev.execution_id, {"inputs": [], "outputs": []})
        slot[side].append((ev.name, detail.artifacts.get(ev.artifact_id)))
    outputs = [
        (ex, name, artifact)
        for ex in detail.executions
        for name, artifact in by_execution.get(ex.id, {}).get("outputs", [])
        if artifact is not None
    ]
    return ctx.render(
        request,
        "run.html",
        active="runs",
        d=detail,
        run=detail.run,
        dag=dag,
        io=by_execution,
        outputs=outputs,
        params=all_params(detail.run, detail.params),
        figures=plots.metric_history([detail.run], {detail.run.id: detail.history}),
        timeline=plots.timeline(detail.executions),
    )


def run_state(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        states = run_queries.run_states(conn, request.path_params["run_id"])
    return JSONResponse(states, headers={"Cache-Control": "no-store"})


def step_log(ctx: UiContext, request: Request) -> Response:
    from mloop.pipelines.executor import LOG_FILE

    execution = ctx.store.get_execution(request.path_params["execution_id"])
    if not execution.log_uri:
        raise ArtifactNotFoundError(
            f"log of {execution.step_name}", "the step printed nothing, so it has no log"
        )
    with ctx.artifacts.open_local(execution.log_uri) as folder:
        text = (folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    if request.query_params.get("raw"):
        return PlainTextResponse(text)
    cut = len(text) > LOG_LIMIT
    return ctx.render(
        request,
        "log.html",
        active="runs",
        execution=execution,
        text=text[-LOG_LIMIT:],
        cut=cut,
    )
