"""``mloop db upgrade`` and ``mloop db current``: the metadata database's schema revision.

The store creates a fresh database by itself; an existing one made by an older mloop is
migrated only on ``mloop db upgrade`` (Alembic), and a newer one is always refused.
"""

from __future__ import annotations

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

app = typer.Typer(
    name="db",
    help="Create, upgrade and inspect the metadata database.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Create the metadata database, or migrate it to this mloop's schema."""
    from mloop.cli.output import console
    from mloop.cli.state import sqlite_file
    from mloop.metadata.sql.migrate import upgrade

    url = state_of(ctx).settings().metadata_url
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    before, after = upgrade(url)
    where = _safe(url)
    if before == after:
        console().print(f"{where} is up to date (revision [bold]{after}[/])")
    else:
        console().print(f"{where}: revision {before or '(empty)'} -> [bold]{after}[/]")


@app.command("current")
def current_command(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """Show the schema revision of the metadata database and the one this mloop expects."""
    from mloop.cli.output import console, print_json
    from mloop.cli.state import store_exists
    from mloop.metadata.sql.migrate import current_revision
    from mloop.metadata.sql.schema import HEAD_REVISION

    url = state_of(ctx).settings().metadata_url
    current = current_revision(url) if store_exists(url) else None
    if as_json:
        print_json(
            {
                "url": _safe(url),
                "current": current,
                "head": HEAD_REVISION,
                "up_to_date": current == HEAD_REVISION,
            }
        )
        return
    state = "up to date" if current == HEAD_REVISION else "run 'mloop db upgrade'"
    console().print(f"{_safe(url)}: revision {current or '(none)'}, head {HEAD_REVISION} ({state})")


def _safe(url: str) -> str:
    """The URL without its password."""
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)
