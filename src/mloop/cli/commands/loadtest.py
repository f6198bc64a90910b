"""``mloop loadtest MODEL_URI``: load-test the prediction service with the model's input
example: QPS, p50/p99 latency, error rate, recorded per model version and gated by the
``loadtest:`` budget of mloop.yaml (exit 1 with the reason when it is broken).

Without ``--url`` the service is started for the test (``mloop serve MODEL_URI`` on a free
127.0.0.1 port) and stopped after; with ``--url`` a running service on 127.0.0.1 is tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mloop.cli.options import EnvOption, JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.cicd.loadtest.record import TestedModel
    from mloop.config import Settings
    from mloop.models import ModelPackage
    from mloop.registry import ModelRegistry

EXIT_OVER_BUDGET = 1

app = typer.Typer(add_completion=False)


@app.command("loadtest")
def loadtest_command(
    ctx: typer.Context,
    model_uri: Annotated[
        str, typer.Argument(help="models:/name@alias, models:/name/VERSION or a package folder.")
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="A running service on 127.0.0.1 to test.")
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", min=0.1, max=3600, help="Measured seconds.")
    ] = 10.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=1024, help="Requests in flight.")
    ] = 8,
    rows: Annotated[int, typer.Option("--rows", min=1, max=100_000, help="Rows per request.")] = 1,
    client: Annotated[
        str,
        typer.Option(
            "--client", help="Load generator: raw (worker processes), or httpx (a cross-check)."
        ),
    ] = "raw",
    processes: Annotated[
        int | None,
        typer.Option("--processes", min=1, help="Load-generator processes (default: 1 per core)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Service workers (without --url).")
    ] = 1,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Do not record a 'loadtest' run.")
    ] = False,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load-test MODEL_URI's prediction service; exit 1 when over the mloop.yaml budget."""
    from contextlib import nullcontext

    from mloop.cicd.loadtest.record import record_loadtest
    from mloop.cicd.loadtest.run import LoadBudget, check_budget, example_payload, run_load
    from mloop.cicd.service_process import served
    from mloop.cli.output import console, print_json
    from mloop.config import read_project_file

    settings = state_of(ctx).settings(env)
    project = read_project_file(settings.project_file) if settings.project_file else None
    budget = LoadBudget.from_dict(project.loadtest if project else {})
    tested, package, registry = _resolve(model_uri, settings)
    payload = example_payload(package.input_example(), rows)
    target = nullcontext(url) if url else served(model_uri, settings.project_dir, workers=workers)
    with target as base:
        assert base is not None
        result = run_load(
            base,
            payload,
            duration_s=duration,
            concurrency=concurrency,
            rows=rows,
            client=client,
            processes=processes,
        )
    broken = check_budget(result, budget)
    run_id = None
    if not no_record:
        from mloop.metadata import connect

        run_id = record_loadtest(
            result, tested, broken, store=connect(settings.metadata_url), registry=registry
        )
    if as_json:
        print_json(
            {**result.to_dict(), "model": tested.__dict__, "broken": broken, "run_id": run_id}
        )
    else:
        out = console()
        p50 = "—" if result.p50_ms is None else f"{result.p50_ms:.2f} ms"
        p99 = "—" if result.p99_ms is None else f"{result.p99_ms:.2f} ms"
        out.print(
            f"[bold]{model_uri}[/] at {result.url}: [bold]{result.qps:.1f}[/] QPS, p50 {p50}, "
            f"p99 {p99}, error rate {result.error_rate:.4f} ({result.requests} requests, "
            f"concurrency {concurrency}, {rows} row(s) each, {result.duration_s:.1f} s)"
        )
        if run_id:
            out.print(f"recorded as run [bold]{run_id}[/] (mloop runs list --experiment loadtest)")
        for reason in broken:
            out.print(f"[bold red]over budget:[/] {reason}")
    if broken:
        raise typer.Exit(EXIT_OVER_BUDGET)


def _resolve(
    model_uri: str, settings: Settings
) -> tuple[TestedModel, ModelPackage, ModelRegistry | None]:
    """(TestedModel, ModelPackage, registry or None) of ``model_uri``."""
    from mloop.cicd.loadtest.record import TestedModel
    from mloop.models import open_package

    if not model_uri.startswith("models:/"):
        return TestedModel(model_uri), open_package(Path(model_uri)), None
    from mloop.artifacts import connect as connect_artifacts
    from mloop.metadata import connect
    from mloop.registry import ModelRegistry

    registry = ModelRegistry(
        connect(settings.metadata_url),
        connect_artifacts(settings.artifact_root),
    )
    version = registry.resolve(model_uri)
    tested = TestedModel(model_uri, version.name, version.version)
    return tested, registry.open_package(version), registry
