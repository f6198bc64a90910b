"""``mloop trigger PIPELINE --reason ...``: ask for a run; the controller starts it.

``--now`` runs it here in the foreground instead. ``--list`` shows recent trigger events with the
run each started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import EnvOption, JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.metadata.controller_state import TriggerEvent

app = typer.Typer(add_completion=False)


@app.command("trigger")
def trigger_command(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Argument(help="A pipeline name from mloop.yaml.")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why this run is wanted (recorded).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value (a YAML scalar); repeatable."),
    ] = None,
    now: Annotated[bool, typer.Option("--now", help="Run it here instead of queueing.")] = False,
    list_events: Annotated[
        bool, typer.Option("--list", help="List recent trigger events instead.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="With --list.")] = 20,
    as_json: JsonOption = False,
    env: EnvOption = None,
) -> None:
    """Record an on-demand trigger: mloop trigger training --reason 'new labels'"""
    from mloop.cli.output import console, format_time, print_json
    from mloop.cli.params import parse_params
    from mloop.cli.state import open_store, store_exists
    from mloop.controller.ondemand import request_run, run_now
    from mloop.errors import ConfigError

    settings = state_of(ctx).settings(env)
    if list_events and not store_exists(settings.metadata_url):  # reading creates nothing
        if as_json:
            print_json([])
        else:
            console().print("No trigger events yet.")
        return
    with open_store(settings.metadata_url) as store:
        if list_events:
            events = store.controller_state().list_events(pipeline=pipeline, limit=limit)
            if as_json:
                print_json([_as_dict(e) for e in events])
                return
            from rich.table import Table

            table = Table("id", "pipeline", "kind", "state", "run", "created", "reason")
            for e in events:
                table.add_row(
                    e.id,
                    e.pipeline,
                    e.kind,
                    e.state.value,
                    e.run_id or "—",
                    format_time(e.created_at, short=True),
                    e.reason,
                )
            console().print(table)
            return
        if pipeline is None:
            raise ConfigError("name a pipeline: mloop trigger training --reason '...'")
        event = request_run(
            store, settings, pipeline, reason=reason or "", params=parse_params(param or [])
        )
        if now:
            event = run_now(store, settings, event)
        if as_json:
            print_json(_as_dict(event))
            return
        if now:
            console().print(f"trigger {event.id}: run {event.run_id or '—'} {event.state.value}")
            if event.state.value != "succeeded":
                raise typer.Exit(1)
        else:
            console().print(
                f"trigger [bold]{event.id}[/] recorded; `mloop controller` will start it"
            )


def _as_dict(e: TriggerEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "pipeline": e.pipeline,
        "kind": e.kind,
        "reason": e.reason,
        "state": e.state.value,
        "run_id": e.run_id,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "error": e.error,
        "payload": e.payload,
    }
