"""``mloop lineage ID``: the runs, executions and artifacts connected to a run or an artifact.

``mloop lineage data/in.parquet`` (a path) lists the runs that read that file or a folder
holding it, grouped by the content version they read.

Printed as a Rich tree; ``--json`` gives the same tree as nested ``{kind, id, label, state,
children}`` objects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import open_store, state_of, store_exists

if TYPE_CHECKING:
    from rich.tree import Tree

    from mloop.metadata.entities import LineageNode
    from mloop.metadata.lineage import Direction

app = typer.Typer(add_completion=False)

_KIND_STYLES = {"run": "bold", "execution": "yellow", "artifact": "cyan", "file": "green"}


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            help="A run id (or unique prefix), an execution or artifact id, or the path of a "
            "local file or folder that steps read."
        ),
    ],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what it came from.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what it fed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show what a run or artifact came from (--upstream) or fed (--downstream); for a file
    path, which runs read it (each content version, newest first)."""
    from mloop.errors import ConfigError, NotFoundError

    if upstream and downstream:
        raise ConfigError("--upstream and --downstream exclude each other; give at most one")
    direction: Direction = "upstream" if upstream else "downstream" if downstream else "both"
    settings = state_of(ctx).settings()
    if not store_exists(settings.metadata_url):
        raise NotFoundError(
            f"no run or artifact {ref!r}: nothing has run in this project yet "
            f"({settings.metadata_url}); start with 'mloop quickstart' or 'mloop run'"
        )
    from mloop.errors import ArtifactNotFoundError
    from mloop.metadata.lineage import file_lineage, lineage

    with open_store(settings.metadata_url) as store:
        try:
            root = lineage(store, ref, direction)
        except ArtifactNotFoundError:
            path = _as_path(ref, settings.project_dir)
            if path is None:
                raise
            root = file_lineage(store, path)
    if as_json:
        from mloop.cli.output import print_json

        print_json(root.to_dict())
        return
    from mloop.cli.output import console

    console().print(render_tree(root))


def _as_path(ref: str, project_dir: Path) -> str | Path | None:
    """``ref`` as a local path, if it looks like one: a ``file://`` URI, an existing path
    (relative to the current folder, then to the project folder), or text with a separator."""
    if ref.startswith("file://"):
        return ref
    here = Path(ref).expanduser()
    for candidate in (here, project_dir / here):
        if candidate.exists():
            return candidate.absolute()
    if "/" in ref or os.sep in ref or "." in ref:
        return here.absolute()  # a file that was read and has since been deleted
    return None


def render_tree(root: LineageNode) -> Tree:
    """A Rich tree with one labelled line per node: kind, label, state and id."""
    from rich.tree import Tree

    tree = Tree(_label(root), guide_style="dim")
    _add_children(tree, root)
    return tree


def _add_children(branch: Tree, node: LineageNode) -> None:
    for child in node.children:
        _add_children(branch.add(_label(child)), child)


def _label(node: LineageNode) -> Any:
    from rich.text import Text

    from mloop.cli.output import STATE_STYLES

    text = Text()
    if not node.label.startswith(node.kind):
        text.append(f"{node.kind} ", style=_KIND_STYLES.get(node.kind, ""))
    text.append(node.label, style="bold" if node.kind == "run" else _KIND_STYLES.get(node.kind, ""))
    if node.state:
        text.append(f"  {node.state}", style=STATE_STYLES.get(node.state, ""))
    text.append(f"  {node.id}", style="dim")
    return text
