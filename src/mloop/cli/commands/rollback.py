"""``mloop rollback``: see :mod:`mloop.cli.commands.deploy` and docs/cicd.md."""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.commands.deploy import Reason, TargetEnv, _need_env, _report
from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="A pipeline name from mloop.yaml.")],
    reason: Reason,
    env: TargetEnv = None,
    as_json: JsonOption = False,
) -> None:
    """Re-activate the previous package: mloop rollback training --env prod --reason '...'"""
    from mloop.cicd.promotion import rollback

    result = rollback(state_of(ctx).project_dir, pipeline, _need_env(env, ctx), reason=reason)
    _report(result, as_json)
