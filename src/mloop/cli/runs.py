"""``mloop runs list`` and ``mloop runs show ID``: what ran, how it ended, what it measured.

``--json`` output keys (stable): a run is ``{id, experiment, name, pipeline, pipeline_version,
state, trigger, environment, parent_run_id, started_at, ended_at, duration_s, error, metrics}``;
``show`` adds ``params``, ``tags``, ``metric_history`` and ``executions`` (each ``{id, step,
state, started_at, ended_at, duration_s, attempts, cache_key, cached_from, error}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import open_store, state_of, store_exists

if TYPE_CHECKING:
    from mloop.metadata.base import MetadataStore
    from mloop.metadata.entities import Execution, Run

app = typer.Typer(
    name="runs",
    help="List runs and show one run's steps, params, metrics.",
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
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from mloop.metadata.entities import RunState

    states = [_parse_state(RunState, s) for s in state or []] or None
    settings = state_of(ctx).settings()
    rows: list[dict[str, Any]] = []
    exists = store_exists(settings.metadata_url)
    if exists:
        with open_store(settings.metadata_url) as store:
            runs = store.search_runs(
                experiment=experiment, pipeline_name=pipeline, states=states, limit=limit
            )
            latest = store.latest_metrics([r.id for r in runs]) if runs else {}
            rows = [run_to_dict(r, latest.get(r.id)) for r in runs]
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    _print_run_table(rows)
    if not exists:
        from mloop.cli.output import err_console
        from mloop.cli.state import missing_store_message

        err_console().print(f"[dim]{missing_store_message(settings)}[/]", soft_wrap=True)


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
    with open_store(settings.metadata_url) as store:
        data = describe_run(store, run_id)
    if as_json:
        from mloop.cli.output import print_json

        print_json(data)
        return
    print_run_details(data)


def describe_run(store: MetadataStore, run_id: str) -> dict[str, Any]:
    """Everything ``runs show`` prints about a run, in its stable JSON shape."""
    run = store.get_run(run_id)
    history = store.get_metrics(run.id)
    data = run_to_dict(run, store.latest_metrics([run.id]).get(run.id))
    data["params"] = {**store.get_params(run.id), **run.pipeline_params}  # typed values win
    data["tags"] = dict(run.tags)
    data["metric_history"] = [
        {"key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp} for m in history
    ]
    data["executions"] = [execution_to_dict(e) for e in store.list_executions(run.id)]
    return data


def _print_run_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from mloop.cli.output import console, format_duration, format_time, styled_state

    if not rows:
        console().print(
            "No runs yet: start one with [bold]mloop quickstart[/] or [bold]mloop run[/]."
        )
        return
    table = Table(box=None, header_style="bold")
    table.add_column("run", no_wrap=True, min_width=26)
    table.add_column("pipeline", overflow="fold", max_width=20)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("started", no_wrap=True)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("metrics", no_wrap=True, overflow="ellipsis")
    for row in rows:
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(row["metrics"].items()))
        table.add_row(
            row["id"],
            row["pipeline"] or row["experiment"],
            styled_state(row["state"]),
            format_time(row["started_at"], short=True),
            format_duration(row["duration_s"]),
            metrics,
        )
    console().print(table)


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
