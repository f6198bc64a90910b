"""``mloop runs list`` and ``mloop runs show ID``: what ran, how it ended, what it measured.

``--json`` output keys (stable): a run is ``{id, experiment, name, pipeline, pipeline_version,
state, trigger, environment, parent_run_id, started_at, ended_at, duration_s, error, metrics}``;
``list`` adds ``params`` and ``tags``; ``show`` adds ``params``, ``tags``, ``metric_history`` and
``executions`` (each ``{id, step, state, started_at, ended_at, duration_s, attempts, cache_key,
cached_from, error}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import open_store, state_of, store_exists

if TYPE_CHECKING:
    from mloop.artifacts.base import ArtifactStore
    from mloop.metadata.base import MetadataStore
    from mloop.metadata.entities import Execution, Run

app = typer.Typer(
    name="runs",
    help="List, show and compare runs: steps, params, metrics, reports.",
    no_args_is_help=True,
    add_completion=False,
)


def run_to_dict(run: Run, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """The stable JSON shape of a run (see the module docstring)."""
    from mloop.cli.output import seconds_between, state_value

    return {
        "id": run.id,
        "experiment": run.experiment,
        "name": run.name,
        "pipeline": run.pipeline_name,
        "pipeline_version": run.pipeline_version,
        "state": state_value(run.state),
        "trigger": run.trigger,
        "environment": run.environment,
        "parent_run_id": run.parent_run_id,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_s": seconds_between(run.started_at, run.ended_at),
        "error": run.error,
        "metrics": metrics or {},
    }


def execution_to_dict(execution: Execution) -> dict[str, Any]:
    from mloop.cli.output import seconds_between, state_value

    return {
        "id": execution.id,
        "step": execution.step_name,
        "state": state_value(execution.state),
        "started_at": execution.started_at,
        "ended_at": execution.ended_at,
        "duration_s": seconds_between(execution.started_at, execution.ended_at),
        "attempts": execution.attempts,
        "cache_key": execution.cache_key,
        "cached_from": execution.cached_from,
        "error": execution.error,
    }


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only runs in this state (running, succeeded, failed, abandoned)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(help="Only runs with this tag value, KEY=VALUE (repeatable: all must hold)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from mloop.metadata.entities import RunState

    states = [_parse_state(RunState, s) for s in state or []] or None
    tags = _parse_tags(tag or [])
    settings = state_of(ctx).settings()
    rows: list[dict[str, Any]] = []
    exists = store_exists(settings.metadata_url)
    if exists:
        with open_store(settings.metadata_url) as store:
            runs = store.search_runs(
                experiment=experiment,
                pipeline_name=pipeline,
                states=states,
                limit=limit,
                include_data=True,  # params and latest metrics: one query each, not one per run
                tags=tags,
            )
            rows = [run_to_dict(r, r.metrics) for r in runs]
            for run, row in zip(runs, rows, strict=True):
                row["params"] = {**run.params, **run.pipeline_params}
                row["tags"] = dict(run.tags)
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    _print_run_table(rows)
    if not exists:
        from mloop.cli.output import err_console
        from mloop.cli.state import missing_store_message

        err_console().print(f"[dim]{missing_store_message(settings)}[/]", soft_wrap=True)


def _parse_tags(given: list[str]) -> dict[str, str]:
    """``--tag KEY=VALUE`` options as a mapping (the value may hold '=')."""
    from mloop.errors import ConfigError

    tags: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--tag {item!r} is not KEY=VALUE, e.g. --tag team=risk")
        tags[key.strip()] = value
    return tags


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix of 6+ characters).")],
    as_json: JsonOption = False,
) -> None:
    """Show one run: its steps, parameters and metrics."""
    from mloop.cli.state import require_store

    settings = state_of(ctx).settings()
    require_store(settings)
    from mloop.artifacts import connect as connect_artifacts

    with open_store(settings.metadata_url) as store:
        data = describe_run(store, run_id, connect_artifacts(settings.artifact_root))
    if as_json:
        from mloop.cli.output import print_json

        print_json(data)
        return
    print_run_details(data)


@app.command("compare")
def compare_runs(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes).")],
    diff_only: Annotated[
        bool, typer.Option("--diff-only", help="Show only the params and metrics that differ.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare runs side by side: their params and latest metrics, differences marked."""
    from mloop.cli.state import require_store
    from mloop.errors import ConfigError

    if len(run_ids) < 2:
        raise ConfigError("give at least two runs: mloop runs compare RUN_A RUN_B [RUN_C ...]")
    settings = state_of(ctx).settings()
    require_store(settings)
    with open_store(settings.metadata_url) as store:
        data = compare(store, run_ids)
    if as_json:
        from mloop.cli.output import print_json

        print_json(data)
        return
    _print_comparison(data, diff_only)


def compare(store: MetadataStore, run_ids: list[str]) -> dict[str, Any]:
    """``{runs: [run...], params: [row...], metrics: [row...]}``; a row is ``{key, values
    (one per run, null where absent), differs}``, and metric rows add ``best`` (the index of the
    best run by that metric's direction, null when all are equal or unknown)."""
    from mloop.errors import ConfigError
    from mloop.evaluation.metrics import HIGHER_IS_BETTER

    runs = [store.get_run(r) for r in run_ids]
    if len({r.id for r in runs}) < len(runs):
        raise ConfigError("the same run is given twice; compare different runs")
    latest = store.latest_metrics([r.id for r in runs])
    params = [run_params(store, r) for r in runs]
    metrics = [latest.get(r.id, {}) for r in runs]

    def rows(mappings: list[dict[str, Any]], *, scored: bool) -> list[dict[str, Any]]:
        out = []
        for key in sorted({k for m in mappings for k in m}):
            values = [m.get(key) for m in mappings]
            row: dict[str, Any] = {
                "key": key,
                "values": values,
                "differs": len({repr(v) for v in values}) > 1,
            }
            if scored:
                known = [(v, i) for i, v in enumerate(values) if isinstance(v, (int, float))]
                best = None
                if row["differs"] and len(known) > 1:
                    pick = max if HIGHER_IS_BETTER.get(key, True) else min
                    best = pick(known)[1]
                row["best"] = best
            out.append(row)
        return out

    return {
        "runs": [run_to_dict(r, m) for r, m in zip(runs, metrics, strict=True)],
        "params": rows(params, scored=False),
        "metrics": rows(metrics, scored=True),
    }


def _print_comparison(data: dict[str, Any], diff_only: bool) -> None:
    from rich.table import Table

    from mloop.cli.output import console, styled_state

    out = console()
    runs = data["runs"]
    table = Table(box=None, header_style="bold")
    table.add_column("", no_wrap=True)
    for run in runs:
        table.add_column(run["id"], no_wrap=True, overflow="fold", justify="right")
    table.add_row("pipeline", *[str(r["pipeline"] or r["experiment"]) for r in runs])
    table.add_row("state", *[styled_state(r["state"]) for r in runs])
    for heading, section in (("params", data["params"]), ("metrics", data["metrics"])):
        shown = [row for row in section if row["differs"] or not diff_only]
        if not shown:
            continue
        table.add_row(f"[bold]{heading}[/]", *[""] * len(runs))
        for row in shown:
            cells = []
            for i, value in enumerate(row["values"]):
                text = (
                    "—"
                    if value is None
                    else (f"{value:.4g}" if isinstance(value, float) else str(value))
                )
                if row.get("best") == i:
                    text = f"[green]{text} ★[/]"
                elif row["differs"]:
                    text = f"[yellow]{text}[/]"
                cells.append(text)
            label = f"  {row['key']}" + (" [yellow]≠[/]" if row["differs"] else "")
            table.add_row(label, *cells)
    out.print(table)
    differing = sum(row["differs"] for row in data["params"] + data["metrics"])
    out.print(f"{differing} of {len(data['params']) + len(data['metrics'])} values differ")


def describe_run(
    store: MetadataStore, run_id: str, artifacts: ArtifactStore | None = None
) -> dict[str, Any]:
    """Everything ``runs show`` prints about a run, in its stable JSON shape (report paths are
    local files when ``artifacts`` is the project's local store)."""
    run = store.get_run(run_id)
    history = store.get_metrics(run.id)
    data = run_to_dict(run, store.latest_metrics([run.id]).get(run.id))
    data["params"] = run_params(store, run)
    data["tags"] = dict(run.tags)
    data["metric_history"] = [
        {"key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp} for m in history
    ]
    data["executions"] = [execution_to_dict(e) for e in store.list_executions(run.id)]
    data["reports"] = html_reports(store, run, artifacts)
    return data


def run_params(store: MetadataStore, run: Run) -> dict[str, Any]:
    """The run's parameters: logged ones and the pipeline's (whose typed values win)."""
    return {**store.get_params(run.id), **run.pipeline_params}


def html_reports(
    store: MetadataStore, run: Run, artifacts: ArtifactStore | None = None
) -> list[dict[str, Any]]:
    """The HTML reports among the run's outputs (evaluation, data validation), each
    ``{step, name, artifact_id, path}``: ``path`` is the file to open (a local store), else the
    artifact's URI under the store's root."""
    found: list[dict[str, Any]] = []
    for execution in store.list_executions(run.id):
        if not execution.state.done_ok:
            continue
        for event in store.list_events(execution_id=execution.id):
            if event.kind.value != "output":
                continue
            artifact = store.get_artifact(event.artifact_id)
            file = str(artifact.properties.get("file") or "")
            if artifact.type != "Report" and not file.endswith(".html"):
                continue
            folder = artifacts.local_path(artifact.uri) if artifacts is not None else None
            name = file or "report.html"
            where = str(folder / name) if folder is not None else f"{artifact.uri}/{name}"
            found.append(
                {
                    "step": execution.step_name,
                    "name": event.name,
                    "artifact_id": artifact.id,
                    "path": where,
                }
            )
    return found


def _print_run_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from mloop.cli.output import console, format_duration, format_time, styled_state

    if not rows:
        console().print(
            "No runs yet: start one with [bold]mloop quickstart[/] or [bold]mloop run[/]."
        )
        return
    table = Table(box=None, header_style="bold")
    table.add_column("run", no_wrap=True, min_width=26, overflow="fold")
    table.add_column("pipeline", overflow="fold")
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("started", no_wrap=True)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("params", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("metrics", no_wrap=True, overflow="ellipsis")
    for row in rows:
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(row["metrics"].items()))
        table.add_row(
            row["id"],
            row["pipeline"] or row["experiment"],
            styled_state(row["state"]),
            format_time(row["started_at"], short=True),
            format_duration(row["duration_s"]),
            compact_params(row.get("params") or {}),
            metrics,
        )
    console().print(table)


def compact_params(params: dict[str, Any]) -> str:
    """``C=0.1 model_type=logreg``: sorted, floats to 4 significant digits, long values cut."""
    parts = []
    for key, value in sorted(params.items()):
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text if len(text) <= 24 else text[:23] + '…'}")
    return " ".join(parts)


def print_run_details(data: dict[str, Any]) -> None:
    """A run as people read it: a header, the steps table, params and latest metrics."""
    from rich.table import Table

    from mloop.cli.output import console, format_duration, format_time, styled_state

    out = console()
    title = data["pipeline"] or data["experiment"]
    out.print(f"[bold]Run {data['id']}[/]  {title}  {styled_state(data['state'])}")
    out.print(
        f"started {format_time(data['started_at'])}, took {format_duration(data['duration_s'])}"
        f", trigger {data['trigger'] or '—'}, environment {data['environment'] or '—'}"
        + (f", resumes {data['parent_run_id']}" if data["parent_run_id"] else "")
    )
    if data["error"]:
        out.print(f"[red]error:[/] {data['error']}", soft_wrap=True)
    if data["executions"]:
        steps = Table(title="steps", title_justify="left", box=None, header_style="bold")
        for column in ("step", "state", "duration", "attempts", "execution"):
            steps.add_column(column, no_wrap=True)
        for e in data["executions"]:
            steps.add_row(
                e["step"],
                styled_state(e["state"]),
                format_duration(e["duration_s"]) if e["state"] != "cached" else "—",
                str(e["attempts"]),
                e["id"] + (f" (from {e['cached_from']})" if e["cached_from"] else ""),
            )
        out.print(steps)
    if data["reports"]:
        out.print("[bold]reports[/]")
        for report in data["reports"]:
            out.print(f"  {report['step']}/{report['name']}: {report['path']}", soft_wrap=True)
    for heading, mapping in (("params", data["params"]), ("metrics", data["metrics"])):
        if mapping:
            table = Table(title=heading, title_justify="left", box=None, header_style="bold")
            table.add_column("key", no_wrap=True)
            table.add_column("value")
            for key, value in sorted(mapping.items()):
                table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
            out.print(table)


def _parse_state(enum: Any, text: str) -> Any:
    from mloop.errors import ConfigError

    try:
        return enum(text.lower())
    except ValueError:
        choices = ", ".join(s.value for s in enum)
        raise ConfigError(f"unknown run state {text!r}; use one of: {choices}") from None
