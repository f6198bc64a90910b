"""``mloop lineage ID``: the runs, executions and artifacts connected to a run or an artifact.

Printed as a Rich tree; ``--json`` gives the same tree as nested ``{kind, id, label, state,
children}`` objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import open_store, state_of, store_exists

if TYPE_CHECKING:
    from rich.tree import Tree

    from mloop.metadata.entities import LineageNode

app = typer.Typer(add_completion=False)

_KIND_STYLES = {"run": "bold", "execution": "yellow", "artifact": "cyan"}


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A run id or an artifact id (or unique prefix).")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what it came from.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what it fed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show what a run or artifact came from (--upstream) or fed (--downstream)."""
    from mloop.errors import ConfigError, NotFoundError

    if upstream and downstream:
        raise ConfigError("--upstream and --downstream exclude each other; give at most one")
    direction = "upstream" if upstream else "downstream" if downstream else "both"
    settings = state_of(ctx).settings()
    if not store_exists(settings.metadata_url):
        raise NotFoundError(
            f"no run or artifact {ref!r}: nothing has run in this project yet "
            f"({settings.metadata_url}); start with 'mloop quickstart' or 'mloop run'"
        )
    from mloop.metadata.lineage import lineage

    with open_store(settings.metadata_url) as store:
        root = lineage(store, ref, direction)
    if as_json:
        from mloop.cli.output import print_json

        print_json(root.to_dict())
        return
    from mloop.cli.output import console

    console().print(render_tree(root))


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
