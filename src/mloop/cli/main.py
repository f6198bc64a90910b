"""The ``mloop`` entry point: a Typer app whose command groups are imported only when used.

``mloop --help`` must answer in well under 0.5 s, so the table below names each command's
module and one-line help; the module (and whatever it imports) is loaded only when that command
runs or its own ``--help`` is asked for. Errors the user can fix print one red line and exit 2
(see :mod:`mloop.cli.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup

from mloop import __version__
from mloop.cli.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, print_error
from mloop.cli.state import CliState, state_of
from mloop.errors import MloopError


@dataclass(frozen=True)
class LazyCommand:
    """A command known by name before its module is imported: ``module.app`` is its Typer app."""

    name: str
    module: str
    help: str


def _command(name: str, help: str) -> LazyCommand:
    """The command ``name`` of :mod:`mloop.cli.commands` (module ``mloop.cli.commands.<name>``)."""
    return LazyCommand(name, f"mloop.cli.commands.{name}", help)


COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand("quickstart", "mloop.demo.quickstart", "Run the Lending Club demo end to end."),
    _command("run", "Run a pipeline: mloop run pipelines/training.py:training"),
    _command("runs", "List, show and compare runs (params, metrics)."),
    _command("lineage", "Show what a run or artifact came from or fed."),
    _command("db", "Create, upgrade and inspect the metadata database."),
    _command("monitor", "Monitor served models: drift, alerts, rollback."),
    _command("controller", "Run the trigger daemon (retraining)."),
    _command("trigger", "Ask for a pipeline run; list trigger events."),
    _command("models", "List, show, alias, roll back, compare models."),
    _command("data", "Profile, validate and compare datasets (stats, drift)."),
    _command("serve", "Serve a model over HTTP (OIP v2, MLflow)."),
    _command("traffic", "Show or change a served canary/shadow."),
    _command("predict", "Predict a Parquet file in batch."),
    _command("features", "Apply, list, describe, materialize features."),
    _command("artifacts", "List a run's artifacts; copy one out."),
    _command("gc", "Delete artifacts no kept run or model needs."),
    _command("pipeline", "Build, list, show, diff pipeline packages."),
    _command("deploy", "Deploy a pipeline package into an environment."),
    _command("approve", "Approve or reject a pending deployment."),
    _command("promote", "Promote the active package to the next env."),
    _command("rollback", "Re-activate an env's previous deployment."),
    _command("deployments", "List deployments: who, when, why."),
    _command("ci", "Run the project's CI checks (JUnit, Markdown reports)."),
    _command("init", "Scaffold a project: pipeline, tests, envs, CI files."),
    _command("loadtest", "Load-test a served model: QPS, p50/p99."),
    _command("experiments", "A/B and canary tests of live models."),
    _command("ui", "Web UI: runs, lineage, reports, models, monitoring."),
)


class LazyGroup(TyperGroup):
    """A Typer group that imports a command's module only when the command is resolved."""

    lazy: dict[str, LazyCommand] = {c.name: c for c in COMMANDS}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded: dict[str, _click.Command] = {}
        self._listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self.lazy:
            return found
        if self._listing:  # the group's help needs names and one-liners only
            return TyperCommand(cmd_name, help=self.lazy[cmd_name].help)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = self._load(self.lazy[cmd_name])
        return self._loaded[cmd_name]

    @staticmethod
    def _load(entry: LazyCommand) -> _click.Command:
        import importlib

        module = importlib.import_module(entry.module)
        command = typer.main.get_command(module.app)
        command.name = entry.name
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MloopError as exc:
            if state_of(ctx).debug:
                raise
            print_error(exc)
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            if state_of(ctx).debug:
                raise
            print_error(
                KeyboardInterrupt("interrupted; resume a pipeline run with --resume RUN_ID")
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="mloop",
    cls=LazyGroup,
    help="mloop: close the machine-learning loop (pipelines, lineage, tracking, ...).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option("--env", envvar="MLOOP_ENV", help="Environment of mloop.yaml to use."),
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            help="Project folder (default: nearest folder upwards holding mloop.yaml, else cwd).",
            file_okay=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """mloop: close the machine-learning loop (pipelines, lineage, tracking, ...)."""
    ctx.obj = CliState(project_dir=project_dir, env=env, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``mloop``) and ``python -m mloop``."""
    app(args=argv, prog_name="mloop")


if __name__ == "__main__":  # pragma: no cover
    main()
