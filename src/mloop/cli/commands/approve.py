"""``mloop approve``: see :mod:`mloop.cli.commands.deploy` and docs/cicd.md."""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.commands.deploy import OverrideGate, Reason, _report
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
    override_gate: OverrideGate = None,
    as_json: JsonOption = False,
) -> None:
    """Approve (or --reject) a pending deployment: mloop approve 3f9a2c --reason 'checked'.
    The environment's CD gates run again first (a gate overridden at the request stays so)."""
    from mloop.cicd import promotion
    from mloop.errors import ConfigError

    project_dir = state_of(ctx).project_dir
    if reject:
        if override_gate:
            raise ConfigError("--override-gate lets a gate through an approval, not a rejection")
        result = promotion.reject(project_dir, deployment, reason=reason, env=env)
    else:
        result = promotion.approve(
            project_dir,
            deployment,
            reason=reason,
            env=env,
            override_gates=tuple(override_gate or ()),
        )
    _report(result, as_json)
