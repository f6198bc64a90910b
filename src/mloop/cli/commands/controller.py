"""``mloop controller [--once] [--interval S]``: the daemon that turns triggers into runs.

It evaluates ``pipelines.<name>.triggers`` of ``mloop.yaml`` every ``--interval`` seconds and
starts runs as subprocesses; SIGTERM or Ctrl-C ends it after the current tick (runs it started
go on and are closed by the next controller). ``--once`` does one tick and waits for its runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.options import EnvOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)


@app.command("controller")
def controller_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One tick, wait for the runs it started, exit.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between ticks.")
    ] = 10.0,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="With --once: seconds to wait for runs.")
    ] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: JSON output.")] = False,
    launcher_timeout: Annotated[
        float,
        typer.Option(
            "--launcher-timeout",
            min=1.0,
            help="Seconds without a heartbeat after which a run's launcher counts as dead "
            "(it heartbeats every 2 s; on the same host a gone pid is noticed at once).",
        ),
    ] = 10.0,
    env: EnvOption = None,
) -> None:
    """Evaluate the project's triggers and start pipeline runs, until stopped."""
    import logging

    from mloop.cli.output import console, print_json
    from mloop.cli.state import open_store
    from mloop.controller.daemon import Controller

    settings = state_of(ctx).settings(env)
    with open_store(settings.metadata_url) as store:
        controller = Controller(
            settings, store, interval_s=interval, launcher_timeout_s=launcher_timeout
        )
        if not once:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
            console().print(
                f"controller [bold]{controller.holder}[/]: {len(controller.rules)} pipeline(s), "
                f"tick every {interval:g} s; Ctrl-C to stop"
            )
            controller.run_forever()
            return
        result = controller.tick()
        controller.wait_for_children(wait)
        controller.tick()  # close the events whose runs just ended
        controller.state.release_lease("controller", controller.holder)
        events = [controller.state.get_event(e.id) for e in result.started]
        if as_json:
            print_json(
                {
                    "leader": result.leader,
                    "fired": [e.id for e in result.fired],
                    "skipped": [e.id for e in result.skipped],
                    "started": [
                        {"event": e.id, "run_id": e.run_id, "state": e.state.value} for e in events
                    ],
                }
            )
            return
        if not result.leader:
            console().print("another controller holds the lease; nothing done")
            return
        console().print(
            f"fired {len(result.fired)}, debounced {len(result.skipped)}, started {len(events)}"
        )
        for e in events:
            console().print(f"  {e.pipeline} ({e.kind}): run {e.run_id or '—'} {e.state.value}")
