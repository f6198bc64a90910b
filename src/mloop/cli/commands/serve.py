"""``mloop serve MODEL_URI``: the online prediction service.

MODEL_URI is ``models:/name@alias`` (followed as the alias moves), ``models:/name/3`` or a
package folder. A model that cannot be found or loaded at start ends the command with one line
saying why (exit code 2) instead of a service answering 503. The service binds 127.0.0.1
unless ``--host`` says otherwise; tokens come from the environment (``MLOOP_SERVE_TOKEN``,
``MLOOP_SERVE_ADMIN_TOKEN``) so they stay out of shell history and process listings. Traffic
(canary, shadow) can be changed while it runs with ``mloop traffic`` or ``PUT /admin/traffic``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mloop.cli.state import state_of
from mloop.serving.settings import DEFAULT_BATCH_ROWS

READY_WAIT_S = 300.0  # how long a worker may take to load its model before serving (s)

app = typer.Typer(
    name="serve",
    help="Serve a model over HTTP (Open Inference Protocol v2 and MLflow scoring).",
    add_completion=False,
)


@app.command()
def serve(
    ctx: typer.Context,
    model_uri: Annotated[
        str, typer.Argument(help="models:/name@alias, models:/name/VERSION or a package folder.")
    ],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes sharing the port.")] = 1,
    max_batch_size: Annotated[
        int,
        typer.Option(
            help="Row budget of one model call: requests are batched while their rows fit; "
            "1 turns micro-batching off."
        ),
    ] = DEFAULT_BATCH_ROWS,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a busy service lets a batch wait for rows (ms).")
    ] = 2.0,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body accepted (bytes); larger gets 413.")
    ] = 10 * 1024 * 1024,
    max_queue: Annotated[
        int,
        typer.Option(
            help="Prediction requests one worker holds at once; beyond it 503 with Retry-After "
            "(0: no bound)."
        ),
    ] = 0,
    header_timeout: Annotated[
        float,
        typer.Option(help="Close a connection whose request headers take longer (s; 0: none)."),
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Answer 408 to a body that takes longer to arrive (s; 0: none).")
    ] = 30.0,
    public_metadata: Annotated[
        bool,
        typer.Option(
            "--public-metadata",
            help="With a token, leave /metrics, /openapi.json and model metadata open.",
        ),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="MLOOP_SERVE_TOKEN", help="Bearer token for inference.", show_default=False
        ),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="MLOOP_SERVE_ADMIN_TOKEN",
            help="Bearer token for /admin (reload, traffic); without it the admin API is closed.",
            show_default=False,
        ),
    ] = None,
    canary: Annotated[
        str | None, typer.Option(help="Challenger and its share: URI:PERCENT.")
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(help="Challenger that sees a copy of every request.")
    ] = None,
    log_dir: Annotated[
        Path | None,
        typer.Option(help="Prediction and feedback logs (default: <project>/.mloop)."),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log predictions.")] = False,
    log_flush_seconds: Annotated[
        float, typer.Option(help="Longest time a logged prediction waits to be written (s).")
    ] = 1.0,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between alias checks in the registry (0: never).")
    ] = 5.0,
    allow_nan: Annotated[
        bool,
        typer.Option(
            "--allow-nan",
            help="Accept null/NaN in every input, also where the model's signature does not "
            "(by default only columns with nulls in the training data accept them).",
        ),
    ] = False,
    features: Annotated[
        str | None,
        typer.Option(
            help="Feature service name or 'view:feature,...' read from the online store for "
            "requests that carry only entity keys."
        ),
    ] = None,
    entity_key: Annotated[
        list[str] | None, typer.Option("--entity-key", help="Join key of --features (repeat).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    announce: Annotated[
        bool,
        typer.Option(
            "--announce/--no-announce",
            help="Report this service, its traffic split and each change to the project's "
            "metadata store (the UI's deployments page shows them).",
        ),
    ] = True,
) -> None:
    """Serve MODEL_URI until interrupted (SIGTERM flushes the prediction log first)."""
    import logging

    from mloop.cli.output import err_console
    from mloop.serving.http.app import create_app
    from mloop.serving.http.security import warn_if_exposed
    from mloop.serving.settings import ServingConfig, TrafficSplit, parse_canary
    from mloop.serving.workers import serve_app

    state = state_of(ctx)
    settings = state.settings()
    os.chdir(settings.project_dir)  # workers and the registry resolve the project from here
    if state.env:
        os.environ["MLOOP_ENV"] = state.env
    canary_uri, percent = parse_canary(canary) if canary else (None, 0.0)
    config = ServingConfig(
        model_uri=model_uri,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes,
        max_queue=max_queue,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        public_metadata=public_metadata,
        token=token,
        admin_token=admin_token,
        traffic=TrafficSplit(canary_uri, percent, shadow),
        log_dir=None if no_log else (log_dir or settings.state_dir).resolve(),
        log_flush_interval_s=log_flush_seconds,
        poll_interval_s=poll_interval,
        allow_nan=allow_nan,
        features=features,
        entity_keys=tuple(entity_key or ()),
        feature_repo=settings.project_dir,
        # Workers share the port: one must not take requests before its model is loaded, or a
        # client whose connection lands there gets a 503 while its siblings are ready.
        wait_until_ready_s=READY_WAIT_S if workers > 1 else 0.0,
        url=_announced_url(host, port) if announce else None,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    warn_if_exposed(host, token)
    err_console().print(
        f"serving {model_uri} on http://{host}:{port} ({workers} worker(s), "
        f"batches up to {max_batch_size} rows); Ctrl-C to stop"
    )
    code = serve_app(
        create_app, (config,), host=host, port=port, workers=workers, log_level=log_level
    )
    if code:
        raise typer.Exit(code)


def _announced_url(host: str, port: int) -> str:
    """Where clients reach this service: the bound address, or the host name for a wildcard."""
    import socket

    name = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"
