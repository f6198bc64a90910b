"""``mloop deploy|approve|promote|rollback``: move pipeline packages through environments.

Each environment's ``promotion:`` policy in ``mloop.yaml`` decides: ``auto`` deploys at once,
``review`` and ``manual`` wait for ``mloop approve`` (``manual``: by someone else, after
``min_successful_runs`` runs of that exact package in the ``from`` environment). Who acts is
``MLOOP_USER`` (else the login name). See docs/cicd.md.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)

TargetEnv = Annotated[str | None, typer.Option("--env", help="The environment to deploy into.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded).")]
OverrideGate = Annotated[
    list[str] | None,
    typer.Option(
        "--override-gate",
        help="Let a failed CD gate through (resources, expected_outputs, metrics; repeatable); "
        "recorded with who and the --reason.",
    ),
]


def deployment_dict(d: Any) -> dict[str, Any]:
    """The stable JSON of a deployment."""
    return {
        "id": d.id,
        "environment": d.environment,
        "pipeline": d.pipeline,
        "state": d.state.value,
        "kind": d.kind.value,
        "approval": d.approval,
        "package_id": d.package_id,
        "package_digest": d.package_digest,
        "package_version": d.details.get("package_version"),
        "source_environment": d.source_environment,
        "base_id": d.base_id,
        "requested_by": d.requested_by,
        "requested_at": d.requested_at,
        "reason": d.reason,
        "decided_by": d.decided_by,
        "decided_at": d.decided_at,
        "decision_reason": d.decision_reason,
        "activated_at": d.activated_at,
        "ended_at": d.ended_at,
        "gates": list(d.details.get("gates") or []),
    }


def _report(result: Any, as_json: bool) -> None:
    from mloop.cli.output import console, print_json

    d = result.deployment
    if as_json:
        print_json(deployment_dict(d))
        return
    what = f"{d.pipeline} package v{result.package.version} {result.package.short}"
    if d.state.value == "active":
        console().print(f"[green]active[/] in {d.environment}: {what} (deployment {d.id})")
    elif d.state.value == "pending_approval":
        console().print(
            f"[yellow]pending approval[/] ({d.approval}) in {d.environment}: {what}\n"
            f"approve with: mloop approve {d.id} --reason '...'"
        )
    else:
        console().print(f"{d.state.value} in {d.environment}: {what} (deployment {d.id})")


def _need_env(env: str | None, ctx: typer.Context) -> str:
    from mloop.errors import ConfigError

    chosen = env or state_of(ctx).env
    if not chosen:
        raise ConfigError("name the environment: --env test|staging|prod")
    return chosen


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="A pipeline name from mloop.yaml.")],
    reason: Reason,
    env: TargetEnv = None,
    package: Annotated[
        str | None, typer.Option("--package", help="Package id, digest or NAME:VERSION.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--from", help="Take the package from this environment.")
    ] = None,
    override_gate: OverrideGate = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy a package: mloop deploy training --env test --reason 'merged #42'"""
    from mloop.cicd.promotion import deploy

    result = deploy(
        state_of(ctx).project_dir,
        pipeline,
        _need_env(env, ctx),
        package=package,
        source=source,
        reason=reason,
        override_gates=tuple(override_gate or ()),
    )
    _report(result, as_json)
