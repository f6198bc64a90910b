"""``mloop ui``: the web UI over this project's metadata and artifact stores (see docs/ui.md).

Serves on 127.0.0.1 by default: the pages are read-only and open to anyone who can reach the
port, so bind another address only behind something that authenticates. Actions (roll back or
move an alias, trigger a pipeline) need ``--admin-token`` (or ``MLOOP_UI_ADMIN_TOKEN``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.options import EnvOption
from mloop.cli.state import state_of

app = typer.Typer(add_completion=False)


@app.command("ui")
def ui_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="MLOOP_UI_ADMIN_TOKEN",
            show_default=False,
            help="Token that allows actions (rollback, alias moves, triggers); without it the "
            "UI is read-only.",
        ),
    ] = None,
    env: EnvOption = None,
) -> None:
    """Browse runs, lineage, data reports, models, deployments, monitoring and triggers."""
    import importlib

    import uvicorn

    from mloop.cli.output import console

    # mloop.cli and mloop.ui are independent interfaces (the layers contract of DESIGN.md):
    # like main.py's command table, this command names the UI's factory and loads it at run
    # time, so neither package imports the other. See docs/adr/0021-ui.md.
    create_app = importlib.import_module("mloop.ui.app").create_app
    settings = state_of(ctx).settings(env=env)
    application = create_app(settings, admin_token=admin_token)
    mode = "actions need the admin token" if admin_token else "read-only (no --admin-token)"
    console().print(f"mloop ui on [bold]http://{host}:{port}[/] ({settings.metadata_url}; {mode})")
    uvicorn.run(application, host=host, port=port, log_level="warning")
