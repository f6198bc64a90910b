"""``mloop deployments list|show``: every deployment with who asked, who decided, when and why,
and what its CD gates found."""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False, no_args_is_help=True, help="List deployments.")


@app.callback()
def deployments_group() -> None:
    """Deployments of pipeline packages, per environment (mloop deployments list)."""


@app.command("list")
def list_command(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Argument(help="Only this pipeline.")] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="Only this environment (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List deployments, newest first, across environments (or --env)."""
    from mloop.cicd.environments import environment_names, open_environment
    from mloop.cli.commands.deploy import deployment_dict
    from mloop.cli.output import console, format_time, print_json

    state = state_of(ctx)
    names = (env or state.env,) if (env or state.env) else environment_names(state.project_dir)
    rows = []
    for name in names or (None,):
        target = open_environment(state.project_dir, name)
        rows += target.deployments.list_deployments(
            environment=target.name, pipeline=pipeline, limit=limit
        )
    rows.sort(key=lambda d: d.requested_at, reverse=True)
    rows = rows[:limit]
    if as_json:
        print_json([deployment_dict(d) for d in rows])
        return
    from rich.table import Table

    table = Table(
        "id",
        "env",
        "pipeline",
        "package",
        "state",
        "kind",
        "asked by",
        "asked",
        "why",
        "decided by",
        "decision",
        "gates",
    )
    for d in rows:
        table.add_row(
            d.id[:10],
            d.environment,
            d.pipeline,
            f"v{d.details.get('package_version', '?')} {d.package_digest[:10]}",
            d.state.value,
            d.kind.value,
            d.requested_by,
            format_time(d.requested_at, short=True),
            d.reason,
            d.decided_by or "—",
            d.decision_reason or "—",
            _gates_cell(d.details.get("gates") or []),
        )
    console().print(table)


def _gates_cell(gates: list[dict[str, object]]) -> str:
    """``3 passed`` or ``metrics failed`` (the gates that did not pass, by name)."""
    bad = [
        f"{g['name']} {g['status']}" for g in gates if g.get("status") in ("failed", "overridden")
    ]
    passed = sum(1 for g in gates if g.get("status") == "passed")
    return ", ".join(bad + ([f"{passed} passed"] if passed else [])) or "—"


@app.command("show")
def show_command(
    ctx: typer.Context,
    deployment_id: Annotated[str, typer.Argument(help="A deployment id (or a prefix).")],
    env: Annotated[
        str | None, typer.Option("--env", help="The environment holding it (default: any).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One deployment: who, when, why, and each CD gate's result (why refused, what passed)."""
    from mloop.cicd.promotion import find_deployment
    from mloop.cli.commands.deploy import deployment_dict
    from mloop.cli.output import console, print_json

    state = state_of(ctx)
    _, found = find_deployment(state.project_dir, deployment_id, env or state.env)
    data = deployment_dict(found)
    if as_json:
        print_json(data)
        return
    from rich.markup import escape

    out = console()
    for key, value in data.items():
        if key != "gates":
            out.print(f"[bold]{key}[/]: {escape(str('—' if value is None else value))}")
    for gate in data["gates"]:
        who = f" (overridden by {gate['by']}: {gate['why']})" if gate.get("by") else ""
        out.print(
            f"gate [bold]{gate['name']}[/] {gate['status']}" + escape(f"{who}: {gate['detail']}")
        )
