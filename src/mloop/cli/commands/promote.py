"""``mloop promote``: see :mod:`mloop.cli.commands.deploy` and docs/cicd.md."""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.commands.deploy import OverrideGate, Reason, _report
from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="A pipeline name from mloop.yaml.")],
    source: Annotated[str, typer.Option("--from", help="Environment to promote from.")],
    target: Annotated[str, typer.Option("--to", help="Environment to promote to.")],
    reason: Reason,
    override_gate: OverrideGate = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy the package active in --from into --to (e.g. --from staging --to prod)."""
    from mloop.cicd.promotion import promote

    result = promote(
        state_of(ctx).project_dir,
        pipeline,
        source=source,
        target=target,
        reason=reason,
        override_gates=tuple(override_gate or ()),
    )
    _report(result, as_json)
