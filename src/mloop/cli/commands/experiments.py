"""``mloop experiments show MODEL``: the live A/B or canary comparison of a served model
(champion vs canary routes of the prediction log, joined with feedback labels), with Wilson and
Newcombe intervals and an always-valid sequential test; ``--act`` carries out its decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mloop.cli.options import EnvOption, JsonOption
from mloop.cli.state import state_of

app = typer.Typer(
    name="experiments",
    help="A/B and canary comparisons of live model versions.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def experiments() -> None:
    """A/B and canary comparisons of live model versions."""


@app.command("show")
def show_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name (as served).")],
    window: Annotated[
        str, typer.Option("--window", help="How far back to read the log: 1h, 1d, 7d.")
    ] = "7d",
    alpha: Annotated[
        float, typer.Option("--alpha", min=0.0001, max=0.5, help="Significance level.")
    ] = 0.05,
    tau: Annotated[
        float, typer.Option("--tau", min=0.001, max=1.0, help="Effect size the test is tuned to.")
    ] = 0.05,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="The service's log dir (default .mloop).")
    ] = None,
    act: Annotated[
        bool, typer.Option("--act", help="Promote or roll back the alias as decided.")
    ] = False,
    alias: Annotated[
        str | None, typer.Option("--alias", help="Alias --act moves (default: the env's).")
    ] = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare MODEL's champion and canary on live traffic; decide promote/rollback/continue."""
    from mloop.cicd.experiments.comparison import analyse_experiment
    from mloop.cli.output import print_json
    from mloop.monitoring.settings import load_monitoring_settings
    from mloop.monitoring.windows import parse_duration

    settings = state_of(ctx).settings(env)
    folder = log_dir or load_monitoring_settings(settings, model).log_dir or settings.state_dir
    result = analyse_experiment(
        Path(folder), model, window=parse_duration(window), alpha=alpha, tau=tau
    )
    action = None
    if act:
        from mloop.artifacts import connect as connect_artifacts
        from mloop.cicd.experiments.actions import act_on_decision
        from mloop.components.push import alias_for_environment
        from mloop.metadata import connect
        from mloop.registry import ModelRegistry

        registry = ModelRegistry(
            connect(settings.metadata_url), connect_artifacts(settings.artifact_root)
        )
        action = act_on_decision(
            result, registry, alias or alias_for_environment(settings.environment)
        )
    if as_json:
        print_json({**result.to_dict(), "action": action})
        return
    _print(result, action)


def _print(result: object, action: str | None) -> None:
    from rich.table import Table

    from mloop.cicd.experiments.comparison import ExperimentResult
    from mloop.cli.output import console

    assert isinstance(result, ExperimentResult)
    table = Table(title=f"{result.model}: champion vs canary (live traffic)")
    for column in ("route", "versions", "predictions", "labelled", "accuracy", "95% CI"):
        table.add_column(column, justify="left" if column in ("route", "versions") else "right")
    for arm in result.arms.values():
        lo, hi = arm.accuracy_ci
        table.add_row(
            arm.route,
            ", ".join(arm.versions) or "—",
            str(arm.predictions),
            str(arm.labelled),
            "—" if arm.accuracy is None else f"{arm.accuracy:.4f}",
            f"[{lo:.3f}, {hi:.3f}]" if arm.labelled else "—",
        )
    out = console()
    out.print(table)
    if result.difference is not None and result.difference_ci is not None:
        lo, hi = result.difference_ci
        level = round(100 * (1 - result.alpha))
        out.print(
            f"difference (canary - champion): {result.difference:+.4f}, {level}% CI "
            f"[{lo:+.4f}, {hi:+.4f}]; always-valid p = {result.p_value:.3g} "
            f"({result.looks} looks, tau {result.tau})"
        )
    if result.shadow_rows_ignored:
        out.print(f"[dim]{result.shadow_rows_ignored} shadow rows left out (not live traffic)[/]")
    colour = {"promote": "green", "rollback": "red"}.get(result.decision, "yellow")
    out.print(f"decision: [bold {colour}]{result.decision}[/] — {result.reason}")
    if action:
        out.print(f"action: {action}")
