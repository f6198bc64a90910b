"""Read queries of the run pages: a constant number of SQL statements per page, whatever the
number of rows it shows.

The store's ABC answers one run at a time; a listing of 50 runs through it would cost 50 tag,
metric and param lookups. These queries read the same tables (``mloop.metadata.sql.schema``)
with ``IN (...)`` lists and joins instead, so the run list, the comparison and a run's page each
cost a fixed handful of statements (``tests/unit/ui/test_query_counts.py`` counts them).
Rows become the store's own entities (``mloop.metadata.sql.rows``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mloop.errors import RunNotFoundError
from mloop.metadata.entities import Artifact, Event, Execution, Metric, Run, RunState
from mloop.metadata.sql import rows
from mloop.metadata.sql.schema import (
    artifacts,
    events,
    executions,
    latest_metrics,
    metrics,
    model_versions,
    params,
    pipelines,
    runs,
    tags,
)
from mloop.metadata.sql.search import search_statement

PAGE_SIZE = 50
"""Runs per page of the run list."""
FAST_OFFSET = 5_000
"""Rows of a filtered metric-ordered run list (100 pages) read by walking the metric's index."""
WALK_LIMIT = 20_000
"""Rows an unfiltered metric-ordered list walks in the index, from either end, before sorting
is cheaper (about 5 ms per 1,000 rows walked against 150-300 ms for the sort)."""
MAX_COMPARE = 10
"""Most runs one comparison shows side by side."""
MAX_METRIC_COLUMNS = 5
"""Metric columns of the run list by default (the keys most runs of the page have)."""


@dataclass(frozen=True)
class RunFilter:
    """What the run list shows: filters, order (``started_at``, ``ended_at``, ``metric:KEY``)."""

    experiment: str | None = None
    pipeline: str | None = None
    state: RunState | None = None
    order_by: str = "started_at"
    descending: bool = True
    page: int = 1
    columns: tuple[str, ...] = ()  # metric columns asked for (default: the most common keys)


@dataclass(frozen=True)
class RunPage:
    runs: list[Run]
    total: int
    page: int
    pages: int
    metrics: dict[str, dict[str, float]]
    metric_keys: list[str]


def _where(query: Any, f: RunFilter) -> Any:
    if f.experiment:
        query = query.where(runs.c.experiment == f.experiment)
    if f.pipeline:
        query = query.where(runs.c.pipeline_name == f.pipeline)
    if f.state is not None:
        query = query.where(runs.c.state == f.state.value)
    return query


def run_page(conn: sa.Connection, f: RunFilter) -> RunPage:
    """One page of runs with their tags and latest metrics: four statements."""
    total = int(conn.scalar(_where(sa.select(sa.func.count()).select_from(runs), f)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, f.page), pages)
    offset = (page - 1) * PAGE_SIZE
    if f.order_by.startswith("metric:") and len(f.order_by) > len("metric:"):
        found = _by_metric(conn, f, f.order_by[len("metric:") :], offset, total)
    else:
        found = _search_rows(conn, f, offset)
    ids = [r.id for r in found]
    run_tags = tags_of(conn, ids)
    latest = latest_of(conn, ids)
    counts: dict[str, int] = defaultdict(int)
    for values in latest.values():
        for key in values:
            counts[key] += 1
    keys = list(f.columns) or sorted(counts, key=lambda k: (-counts[k], k))[:MAX_METRIC_COLUMNS]
    return RunPage(
        runs=[rows.run_from_row(r._mapping, run_tags[r.id]) for r in found],
        total=total,
        page=page,
        pages=pages,
        metrics=latest,
        metric_keys=keys if f.columns else sorted(keys),
    )


def _by_metric(conn: sa.Connection, f: RunFilter, key: str, offset: int, total: int) -> list[Any]:
    """A page of runs ordered by their latest ``key``, in ``search_runs``' order (value, then
    id; NaN and missing values last).

    ``search_runs`` left-joins ``latest_metrics`` to every run and sorts them all (about
    350 ms for the last page of 100,000 runs). Here the runs that have a value are walked in
    the ``(key, value)`` index and the walk stops at the page: from the front for the first
    :data:`FAST_OFFSET` rows of a filtered list; for an unfiltered one, from whichever end of
    the valued runs is nearer, up to :data:`WALK_LIMIT` rows. A page that reaches the runs
    without a value (listed last), or one in the middle, is ``search_runs``' own sort."""
    lm = latest_metrics
    forward = sa.desc if f.descending else sa.asc
    backward = sa.asc if f.descending else sa.desc
    valued = sa.and_(lm.c.run_id == runs.c.id, lm.c.key == key, lm.c.value.is_not(None))
    base = _where(sa.select(runs).select_from(lm.join(runs, valued)), f)
    unfiltered = not (f.experiment or f.pipeline or f.state)
    with_value = None
    if unfiltered and offset >= FAST_OFFSET:
        count = sa.select(sa.func.count()).where(
            lm.c.key == key, lm.c.value.is_not(None)
        )  # every latest_metrics row has its run (a foreign key)
        with_value = int(conn.scalar(count) or 0)
    front = with_value is not None and offset < min(with_value // 2, WALK_LIMIT)
    if offset < FAST_OFFSET or front:
        query = base.order_by(forward(lm.c.value), forward(runs.c.id))
        found = list(conn.execute(query.limit(PAGE_SIZE).offset(offset)).all())
        if len(found) == PAGE_SIZE:
            return found
    elif with_value is not None:
        length = min(PAGE_SIZE, total - offset)
        back = with_value - offset - length
        if 0 <= back < WALK_LIMIT:  # among the valued runs, near their end: walk back
            query = base.order_by(backward(lm.c.value), backward(runs.c.id))
            found = list(conn.execute(query.limit(length).offset(back)).all())
            if len(found) == length:
                return found[::-1]
    return _search_rows(conn, f, offset)


def _search_rows(conn: sa.Connection, f: RunFilter, offset: int) -> list[Any]:
    """The page in ``search_runs``' order, sorting ids only, then reading those 50 rows: a deep
    page sorts (and skips) narrow rows, not whole runs (about 2.5x faster at offset 99,950)."""
    ids = list(conn.scalars(_search(f, offset).with_only_columns(runs.c.id)))
    found = {r.id: r for r in conn.execute(sa.select(runs).where(runs.c.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _search(f: RunFilter, offset: int) -> Any:
    """The page as ``MetadataStore.search_runs`` selects it."""
    return search_statement(
        experiment=f.experiment or None,
        pipeline_name=f.pipeline or None,
        states=[f.state] if f.state is not None else None,
        metric_filters=(),
        order_by=f.order_by,
        descending=f.descending,
        limit=PAGE_SIZE,
        offset=offset,
    )


def tags_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
    if run_ids:
        query = sa.select(tags.c.run_id, tags.c.key, tags.c.value).where(
            tags.c.run_id.in_(list(run_ids))
        )
        for run_id, key, value in conn.execute(query):
            out[run_id][key] = value
    return out


def latest_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
    if run_ids:
        lm = latest_metrics
        query = sa.select(lm.c.run_id, lm.c.key, lm.c.value).where(lm.c.run_id.in_(list(run_ids)))
        for run_id, key, value in conn.execute(query):
            out[run_id][key] = rows.decode_value(value)
    return out


def params_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
    if run_ids:
        query = (
            sa.select(params.c.run_id, params.c.key, params.c.value)
            .where(params.c.run_id.in_(list(run_ids)))
            .order_by(params.c.key)
        )
        for run_id, key, value in conn.execute(query):
            out[run_id][key] = value
    return out


def history_of(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, list[Metric]]]:
    """Run id -> metric key -> every logged value, by step then time (for the plots)."""
    out: dict[str, dict[str, list[Metric]]] = {rid: defaultdict(list) for rid in run_ids}
    if run_ids:
        query = (
            sa.select(metrics)
            .where(metrics.c.run_id.in_(list(run_ids)))
            .order_by(metrics.c.run_id, metrics.c.key, metrics.c.step, metrics.c.timestamp)
        )
        for r in conn.execute(query):
            out[r.run_id][r.key].append(rows.metric_from_row(r._mapping))
    return {rid: dict(keys) for rid, keys in out.items()}


def runs_by_id(conn: sa.Connection, run_ids: Sequence[str]) -> list[Run]:
    """The runs with these ids (or unique prefixes of 6+ characters), in the order given."""
    wanted = list(dict.fromkeys(run_ids))
    found = {r.id: r for r in conn.execute(sa.select(runs).where(runs.c.id.in_(wanted)))}
    for rid in wanted:
        if rid not in found and len(rid) >= 6:
            prefixed = conn.execute(
                sa.select(runs).where(runs.c.id.startswith(rid, autoescape=True)).limit(2)
            ).all()
            if len(prefixed) == 1:
                found[rid] = prefixed[0]
    missing = [rid for rid in wanted if rid not in found]
    if missing:
        raise RunNotFoundError(missing[0])
    run_tags = tags_of(conn, [found[rid].id for rid in wanted])
    return [rows.run_from_row(found[rid]._mapping, run_tags[found[rid].id]) for rid in wanted]


@dataclass(frozen=True)
class RunDetail:
    """Everything a run's page shows, read in one transaction."""

    run: Run
    executions: list[Execution]
    events: list[Event]
    artifacts: dict[str, Artifact]
    spec: dict[str, Any] | None
    params: dict[str, str]
    history: dict[str, list[Metric]]
    latest: dict[str, float]
    model_versions: list[tuple[str, int]] = field(default_factory=list)


def run_detail(conn: sa.Connection, run_id: str) -> RunDetail:
    (run,) = runs_by_id(conn, [run_id])
    found = conn.execute(
        sa.select(executions)
        .where(executions.c.run_id == run.id)
        .order_by(executions.c.created_at, executions.c.id)
    ).all()
    run_events = [
        rows.event_from_row(r._mapping)
        for r in conn.execute(
            sa.select(events)
            .join(executions, executions.c.id == events.c.execution_id)
            .where(executions.c.run_id == run.id)
            .order_by(events.c.execution_id, events.c.kind, events.c.name)
        )
    ]
    ids = sorted({e.artifact_id for e in run_events})
    arts = {
        r.id: rows.artifact_from_row(r._mapping)
        for r in conn.execute(sa.select(artifacts).where(artifacts.c.id.in_(ids)))
    }
    spec = None
    if run.pipeline_name and run.pipeline_version:
        spec = conn.scalar(
            sa.select(pipelines.c.spec).where(
                pipelines.c.name == run.pipeline_name,
                pipelines.c.version == run.pipeline_version,
            )
        )
    versions = [
        (r.name, int(r.version))
        for r in conn.execute(
            sa.select(model_versions.c.name, model_versions.c.version)
            .where(model_versions.c.run_id == run.id)
            .order_by(model_versions.c.name, model_versions.c.version)
        )
    ]
    return RunDetail(
        run=run,
        executions=[rows.execution_from_row(r._mapping) for r in found],
        events=run_events,
        artifacts=arts,
        spec=dict(spec) if spec else None,
        params=params_of(conn, [run.id])[run.id],
        history=history_of(conn, [run.id])[run.id],
        latest=latest_of(conn, [run.id])[run.id],
        model_versions=versions,
    )


def run_states(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    """The small JSON the run page polls while the run is running: two statements."""
    row = conn.execute(sa.select(runs.c.state, runs.c.ended_at).where(runs.c.id == run_id)).first()
    if row is None:
        raise RunNotFoundError(run_id)
    steps = conn.execute(
        sa.select(
            executions.c.step_name,
            executions.c.state,
            executions.c.started_at,
            executions.c.ended_at,
        )
        .where(executions.c.run_id == run_id)
        .order_by(executions.c.created_at, executions.c.id)
    ).all()
    out: dict[str, Any] = {"state": row.state, "steps": {}}
    for s in steps:
        started, ended = rows.utc_or_none(s.started_at), rows.utc_or_none(s.ended_at)
        out["steps"][s.step_name] = {
            "state": s.state,
            "seconds": (ended - started).total_seconds() if started and ended else None,
        }
    return out


def experiments(conn: sa.Connection) -> list[dict[str, Any]]:
    """Experiments with their run counts and newest start, newest first (one GROUP BY)."""
    query = (
        sa.select(
            runs.c.experiment,
            sa.func.count().label("runs"),
            sa.func.max(runs.c.started_at).label("last"),
        )
        .group_by(runs.c.experiment)
        .order_by(sa.desc("last"))
    )
    return [
        {"name": r.experiment, "runs": int(r.runs), "last": rows.utc_or_none(r.last)}
        for r in conn.execute(query)
    ]


def pipeline_names(conn: sa.Connection) -> list[str]:
    query = sa.select(runs.c.pipeline_name).where(runs.c.pipeline_name.is_not(None)).distinct()
    return sorted(str(n) for n in conn.scalars(query))
