"""``mloop approve``: see :mod:`mloop.cli.commands.deploy` and docs/cicd.md."""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.commands.deploy import Reason, _report
from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)


@app.command("approve")
def approve_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment id (or prefix).")],
    reason: Reason,
    reject: Annotated[bool, typer.Option("--reject", help="Refuse it instead.")] = False,
    env: Annotated[str | None, typer.Option("--env", help="Where it waits.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Approve (or --reject) a pending deployment: mloop approve 3f9a2c --reason 'checked'"""
    from mloop.cicd import promotion

    act = promotion.reject if reject else promotion.approve
    result = act(state_of(ctx).project_dir, deployment, reason=reason, env=env)
    _report(result, as_json)
