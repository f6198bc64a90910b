"""``mloop quickstart``: run the Lending Club demo project end to end, then say what happened.

The demo trains a candidate, evaluates it overall and per slice (term, region) against the model
behind ``models:/lending_club@production``, serves it from a fresh process to validate it, and
registers and promotes it only when both validations bless it. The summary ends with that
decision and its reason; ``-p`` changes the run (``-p model_type=hist_gradient_boosting``,
``-p sample=0.5`` for changed data) to show a promotion or a refusal.

Where the demo project comes from: from the root of a repository checkout, ``examples/lending_club``
is used in place; anywhere else it is copied into ``./mloop-quickstart/`` (from the package data
of an installed wheel, ``mloop/demo/projects/lending_club``, or from the checkout behind an
editable install; see :mod:`mloop.demo.sources`). A second run reuses the copy and its cache, so
every step comes back ``cached``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mloop._utils.clock import utc_now
from mloop.cli.errors import EXIT_INTERRUPTED, print_error
from mloop.cli.state import state_of
from mloop.demo.sources import prepare_demo

if TYPE_CHECKING:
    from mloop.config import Settings
    from mloop.metadata.base import MetadataStore
    from mloop.pipelines.run_handle import RunHandle

app = typer.Typer(add_completion=False)

PIPELINE = "training"
_CLOCK_SLACK = timedelta(seconds=1)  # the store's clock and ours may round differently


@app.command("quickstart")
def quickstart_command(
    ctx: typer.Context,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            file_okay=False,
            help="Where the demo project lives (default: ./mloop-quickstart, or "
            "examples/lending_club in a checkout).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Forget earlier runs: new database, artifacts and cache."),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="key=value pipeline parameter, e.g. model_type=hist_gradient_boosting or "
            "sample=0.5; repeatable.",
        ),
    ] = None,
    example: Annotated[
        str,
        typer.Option(
            "--example",
            help="lending_club (training, validation, registry), flights (feature store: "
            "point-in-time training set, materialization, online features) or cicd (a change "
            "from a branch through test, staging and an approved production deploy).",
        ),
    ] = "lending_club",
    loop: Annotated[
        bool,
        typer.Option(
            "--loop",
            help="The closed loop: the champion serves, drifted traffic arrives, monitoring "
            "detects it, the controller retrains, the service swaps to the new version.",
        ),
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Id of an interrupted or failed demo run: re-run only what did not succeed "
            "(Ctrl-C prints the exact command).",
        ),
    ] = None,
) -> None:
    """Run a demo end to end. The default, Lending Club: train, evaluate with slices against
    production, infra-validate, register and promote (or refuse, saying why)."""
    if loop or example == "flights":
        if resume:
            from mloop.errors import ConfigError

            raise ConfigError("--resume continues a Lending Club demo run; drop --loop/--example")
        again = "quickstart --loop" if loop else "quickstart --example flights"
        try:
            _run_other_demo(project_dir or state_of(ctx).project_dir, loop=loop, fresh=fresh)
        except KeyboardInterrupt:  # these demos start afresh: no run to resume
            print_error(KeyboardInterrupt(f"interrupted; start the demo again: mloop {again}"))
            raise typer.Exit(EXIT_INTERRUPTED) from None
        return
    if example == "cicd":
        if resume:
            from mloop.errors import ConfigError

            raise ConfigError("--resume continues a Lending Club demo run; drop --example cicd")
        from mloop.cli.output import console
        from mloop.demo.cicd import run_cicd_quickstart

        try:
            run_cicd_quickstart(project_dir, echo=console().print)
        except KeyboardInterrupt:  # a fresh temporary project each time: start again
            print_error(
                KeyboardInterrupt(
                    "interrupted; start the demo again: mloop quickstart --example cicd"
                )
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        return
    if example != "lending_club":
        from mloop.errors import ConfigError

        raise ConfigError(f"no example {example!r}; use --example lending_club, flights or cicd")
    from mloop.cli.commands.run import resolve_pipeline, run_with_progress
    from mloop.cli.output import console
    from mloop.cli.params import parse_params

    if resume and fresh:
        from mloop.errors import ConfigError

        raise ConfigError("--resume continues a run that --fresh would forget; give one of them")
    state = state_of(ctx)
    folder = prepare_demo(project_dir or state.project_dir, fresh=fresh)
    out = console()
    out.print(f"Demo project: [bold]{folder}[/]")
    settings = state.settings(project_dir=folder)
    target, defaults = resolve_pipeline(PIPELINE, settings)
    overrides = parse_params(param or [])
    # a resumed run keeps its own parameters: only what the user repeats is checked against them
    params = overrides if resume else {**defaults, **overrides}
    started = utc_now()
    try:
        handle = run_with_progress(target, params, settings, trigger="quickstart", resume=resume)
    except KeyboardInterrupt:
        run_id = resume or interrupted_run(settings, since=started)
        hint = (
            f"resume it with: {command_in(folder, f'quickstart --resume {run_id}')}"
            if run_id
            else f"start again with: {command_in(folder, 'quickstart')}"
        )
        print_error(KeyboardInterrupt(f"interrupted; {hint}"))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_summary(handle, settings)


def _run_other_demo(project_dir: Path | None, *, loop: bool, fresh: bool) -> None:
    """The closed-loop demo (``loop``) or the flights feature-store demo."""
    if loop:
        from mloop.cli.output import console
        from mloop.demo.loop import run_loop_quickstart

        run_loop_quickstart(project_dir, fresh=fresh, echo=console().print)
        return
    from mloop.demo.flights import run_flights_quickstart

    run_flights_quickstart(project_dir, fresh=fresh)


def interrupted_run(settings: Settings, *, since: datetime) -> str | None:
    """The id of the demo run this process started at or after ``since`` (None if none was
    recorded before the interrupt)."""
    from mloop._utils.clock import as_utc
    from mloop.cli.state import open_store, store_exists

    if not store_exists(settings.metadata_url):
        return None
    with open_store(settings.metadata_url) as store:
        for run in store.search_runs(pipeline_name=PIPELINE, limit=10):  # newest first
            if run.trigger == "quickstart" and as_utc(run.started_at) >= since - _CLOCK_SLACK:
                return run.id
    return None


def command_in(folder: Path, command: str) -> str:
    """``mloop --project-dir FOLDER COMMAND``: the form that works from any directory (the
    folder relative to the current one when below it; no option when it is the current one)."""
    import shlex

    where = _relative(folder)
    if where == ".":
        return f"mloop {command}"
    return f"mloop --project-dir {shlex.quote(where)} {command}"


def print_summary(handle: RunHandle, settings: Settings) -> None:
    """The run, its steps, metrics, where everything is stored, and what to try next."""
    from rich.console import Group, RenderableType
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from mloop.cli.output import (
        console,
        format_duration,
        seconds_between,
        state_value,
        styled_state,
    )
    from mloop.cli.state import open_store

    executions = [e for e in handle.executions if ".trial-" not in e.step_name]
    with open_store(settings.metadata_url) as store:
        metrics, source = run_metrics(store, handle.id)
        tags = store.get_run(handle.id).tags
    decision = push_decision(tags)
    steps = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("step", "state", "duration"):
        steps.add_column(column, no_wrap=True)
    for e in executions:
        state = state_value(e.state)
        took = seconds_between(e.started_at, e.ended_at) if state != "cached" else None
        steps.add_row(e.step_name, styled_state(state), format_duration(took))
    scores = Table(box=None, header_style="bold", pad_edge=False)
    scores.add_column("metric" + (f" (logged by run {source})" if source else ""), no_wrap=True)
    scores.add_column("value", justify="right")
    for key, value in sorted(metrics.items()):
        scores.add_row(key, f"{value:.0f}" if float(value).is_integer() else f"{value:.4f}")
    cached = sum(state_value(e.state) == "cached" for e in executions)
    where = Table.grid(padding=(0, 2))
    where.add_row("project", str(settings.project_dir))
    where.add_row("metadata", settings.metadata_url)
    where.add_row("artifacts", settings.artifact_root)
    folder = settings.project_dir
    nxt = [
        f"{escape(command_in(folder, cmd))}  [dim]# {why}[/]"
        for cmd, why in (
            (f"runs show {handle.id}", "steps, params, metrics"),
            ("models show lending_club", "versions, aliases and why they moved"),
            (f"lineage {handle.id}", "what was made from what"),
            ("ui", "the same in a browser, at http://127.0.0.1:8090"),
            ("quickstart -p model_type=hist_gradient_boosting", "a challenger"),
            ("quickstart -p sample=0.5", "changed data: promoted or refused, and why"),
        )
    ]
    header = f"Run [bold]{handle.id}[/] {styled_state(state_value(handle.state))}"
    if cached:
        header += f" ({cached} of {len(executions)} steps cached)"
    head: list[RenderableType] = [header, "", steps, "", scores, "", *decision, where, ""]
    parts = [*head, "[bold]Next[/]", *nxt]
    console().print(Panel(Group(*parts), title="mloop quickstart", expand=False))


def push_decision(tags: dict[str, str]) -> list[str]:
    """Lines saying what push decided (from the run's ``mloop.push*`` tags), or nothing."""
    outcome = tags.get("mloop.push")
    if outcome is None:
        return []
    style = {"promoted": "green", "unchanged": "cyan", "refused": "red"}.get(outcome, "bold")
    version = tags.get("mloop.push.version")
    head = f"[bold]Decision:[/] [{style}]{outcome}[/]" + (f" (v{version})" if version else "")
    reasons = [r.strip() for r in tags.get("mloop.push.reason", "").split("; ") if r.strip()]
    return [head, *[f"  - {r}" for r in reasons[:6]], ""]


def run_metrics(store: MetadataStore, run_id: str) -> tuple[dict[str, float], str | None]:
    """The run's latest metrics; for a run whose steps all came from the cache, the metrics of
    the run that computed them, and that run's id (else None)."""
    own = store.latest_metrics([run_id]).get(run_id, {})
    if own:
        return own, None
    for execution in store.list_executions(run_id):
        origin = execution.cached_from
        for _ in range(20):  # a cached execution may point at another cached one; bounded
            if origin is None:
                break
            source = store.get_execution(origin)
            logged = [m for m in store.get_metrics(source.run_id) if m.execution_id == source.id]
            if logged:
                latest: dict[str, float] = {}
                for m in logged:  # ordered by key, step, timestamp: the last one wins
                    latest[m.key] = m.value
                return latest, source.run_id
            origin = source.cached_from
    return {}, None


def _relative(folder: Path) -> str:
    """``folder`` relative to the current directory when below it, else absolute."""
    try:
        return str(folder.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(folder)
