"""``mloop run REF``: run a pipeline with live progress.

``REF`` is ``path/to/file.py:function``, ``package.module:function``, or the name of a pipeline in
``mloop.yaml`` (whose ``params`` are defaults that ``-p`` overrides). The run happens with the
project folder as the current directory, so relative data paths mean the same from anywhere.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import EnvOption
from mloop.cli.state import state_of
from mloop.pipelines.hooks import RunHook

if TYPE_CHECKING:
    from mloop.config import Settings
    from mloop.pipelines.dsl import Pipeline
    from mloop.pipelines.run_handle import RunHandle

app = typer.Typer(add_completion=False)


@app.command("run")
def run_command(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            help="file.py:function, module:function, or a pipeline name from mloop.yaml."
        ),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value (a YAML scalar); repeatable."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Id of a failed run: re-run only what did not succeed."),
    ] = None,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Independent steps to run at once.")
    ] = 1,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Execute every step even if cached.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Run a pipeline: mloop run pipelines/training.py:training -p n_estimators=200"""
    from mloop.cli.output import console
    from mloop.cli.params import fit_to_hints, parse_param_texts, parse_params
    from mloop.pipelines.param_types import type_hints

    settings = state_of(ctx).settings(env)
    overrides = parse_params(param or [])
    target, defaults = resolve_pipeline(ref, settings)
    overrides = fit_to_hints(overrides, parse_param_texts(param or []), type_hints(target.func))
    started = _RunId()
    try:
        handle = run_with_progress(
            target,
            {**defaults, **overrides},
            settings,
            hooks=[started],
            resume=resume,
            parallel=parallel,
            cache=not no_cache,
            trigger="cli",
        )
    except KeyboardInterrupt:
        from mloop.cli.errors import EXIT_INTERRUPTED, print_error

        if started.id is None:
            raise
        print_error(
            KeyboardInterrupt(f"interrupted; resume with: mloop run {ref} --resume {started.id}")
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_run_result(handle)
    console().print(f"Details: [bold]mloop runs show {handle.id}[/]")


def resolve_pipeline(ref: str, settings: Settings) -> tuple[Pipeline, dict[str, Any]]:
    """The pipeline ``ref`` names, and default parameters from ``mloop.yaml`` (if named there)."""
    from mloop.pipelines.loading import load_pipeline

    configured = settings.pipelines.get(ref)
    if configured is not None:
        return load_pipeline(_anchor(configured.entrypoint, settings.project_dir)), dict(
            configured.params
        )
    return load_pipeline(_anchor(ref, settings.project_dir)), {}


def _anchor(ref: str, project_dir: Path) -> str:
    """A ``file.py:function`` reference made absolute against the project folder if needed."""
    path, sep, func = ref.rpartition(":")
    if not sep or not path.endswith(".py") or Path(path).is_absolute() or Path(path).exists():
        return ref
    return f"{project_dir / path}:{func}"


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run with ``folder`` as the current directory, then go back."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_with_progress(
    target: Pipeline,
    params: dict[str, Any],
    settings: Settings,
    **options: Any,
) -> RunHandle:
    """Run ``target`` in the project folder with a live progress display on the console."""
    from mloop.cli.output import console
    from mloop.cli.progress import LiveProgressHook

    hooks = [*options.pop("hooks", ())]
    with LiveProgressHook(console()) as progress, inside(settings.project_dir):
        return target.run_with(params, hooks=[progress, *hooks], settings=settings, **options)


class _RunId(RunHook):
    """Remembers the id of the run being executed, for the Ctrl-C hint."""

    id: str | None = None

    def on_run_start(self, run: Any, graph: Any) -> None:
        self.id = run.id


def print_run_result(handle: RunHandle) -> None:
    """One line: the run's state and how its steps ended (e.g. ``3 succeeded, 1 cached``)."""
    from mloop.cli.output import console, state_value, styled_state

    latest = {e.step_name: e for e in handle.executions}  # creation order: the newest wins
    counts = Counter(state_value(e.state) for e in latest.values())
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    state = state_value(handle.state)
    console().print(f"Run [bold]{handle.id}[/] {styled_state(state)} ({summary})")
