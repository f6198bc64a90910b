"""``mloop init [DIR]``: scaffold a project (pipeline, feature tests, mloop.yaml with dev/staging/
prod, GitHub Actions and GitLab CI workflows that run ``mloop ci`` and deploy on merge)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command("init")
def init_command(
    directory: Annotated[
        Path, typer.Argument(help="Folder of the new project.", file_okay=False)
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="Project (and model) name; default: the folder's.")
    ] = None,
    requirement: Annotated[
        str | None,
        typer.Option("--requirement", help="What CI pip-installs (default: mloop==VERSION)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold an mloop project in DIR (default: the current folder)."""
    from mloop.cicd.scaffold import scaffold_project
    from mloop.cli.output import console

    result = scaffold_project(directory, name=name, requirement=requirement, force=force)
    out = console()
    out.print(f"Created project [bold]{result.name}[/] in {result.folder}:")
    for path in result.files:
        out.print(f"  {path}")
    out.print(
        f"Next: [bold]cd {result.folder}[/] && [bold]mloop run training[/] && [bold]mloop ci[/]"
    )
