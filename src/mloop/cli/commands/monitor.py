"""``mloop monitor run|reports|alerts``: monitoring jobs over the prediction log, their reports
and the alerts they raised (``--json`` everywhere for scripts and the controller)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of, store_exists

app = typer.Typer(
    name="monitor",
    help="Monitor served models: drift, live performance, alerts, rollback.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("run")
def run_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help="Registered model name.")],
    window: Annotated[
        str | None, typer.Option("--window", help="Window length: 15m, 1h, 1d (mloop.yaml).")
    ] = None,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="The service's log dir (default .mloop).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report over time here.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST new alerts here (overrides config).")
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            help="local: this process. ray: one Ray task per group of log files on the "
            "environment's Ray cluster (runner.address), merged here."
        ),
    ] = "local",
    as_json: JsonOption = False,
) -> None:
    """Monitor the latest window of MODEL's prediction log and record a report."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.cli.output import console, print_json
    from mloop.metadata import connect
    from mloop.monitoring import render_html, run_monitoring

    settings = state_of(ctx).settings()
    store = connect(settings.metadata_url)
    report = run_monitoring(
        model,
        window=window,
        settings=settings,
        store=store,
        artifacts=connect_artifacts(settings.artifact_root),
        log_dir=log_dir,
        webhook=webhook,
        runner=runner,
    )
    if html is not None:
        rows = store.monitoring().list_reports(model, limit=1000)
        alerts = store.monitoring().list_alerts(model, limit=200)
        html.write_text(render_html(model, rows, report, alerts), encoding="utf-8")
    if as_json:
        print_json(report.to_dict() if not html else {**report.to_dict(), "html": str(html)})
        return
    out = console()
    out.print(
        f"[bold]{model}[/] {report.window_start:%Y-%m-%d %H:%M} -> "
        f"{report.window_end:%H:%M} UTC: {report.num_rows} rows, {report.num_requests} requests"
        f" (version {report.version or '-'})"
    )
    if report.drift is not None:
        drifted = ", ".join(report.drift.drifted_features) or "none"
        out.print(
            f"input drift vs {report.reference_source}: share {report.share_drifted:.2f} "
            f"(drifted: {drifted})"
        )
    if report.prediction_drift_score is not None:
        out.print(f"prediction drift score: {report.prediction_drift_score:.3f}")
    if report.metrics:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(report.metrics.items()))
        out.print(f"live metrics on {report.labelled_rows} labelled rows: {shown}")
    if report.requests:
        out.print(
            f"errors: {report.failed_requests} of {report.requests} requests failed "
            f"(error rate {report.error_rate:.2%}; {report.server_failed_requests} server errors)"
        )
    if report.latency_ms:
        out.print(
            f"latency p50 {report.latency_ms['p50']:.1f} ms, p99 {report.latency_ms['p99']:.1f} ms"
        )
    for version, part in sorted(report.shadow.items()):
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(part["metrics"].items())) or "-"
        out.print(
            f"shadow version {version} (not served, not in the figures above): {part['rows']} "
            f"rows; metrics on {part['labelled_rows']} labelled rows: {shown}"
        )
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]")
    for alert in report.alerts:
        out.print(f"[red]alert[/] {alert.rule}: {alert.message}")
    if report.rollback:
        out.print(f"[red bold]rolled back[/]: {report.rollback['reason']}")
    out.print(f"report {report.id} (run {report.run_id})" + (f", html {html}" if html else ""))


def _as_dict(row: Any) -> dict[str, Any]:
    return asdict(row)


@app.command("reports")
def reports_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List monitoring reports, newest window first."""
    from rich.table import Table

    from mloop.cli.output import console, format_time, print_json
    from mloop.metadata import connect

    settings = state_of(ctx).settings()
    rows = (
        connect(settings.metadata_url).monitoring().list_reports(model, limit=limit)
        if store_exists(settings.metadata_url)
        else []
    )
    if as_json:
        print_json([_as_dict(r) for r in rows])
        return
    table = Table("id", "model", "version", "window end", "rows", "share drifted", "metrics")
    for r in rows:
        metrics = r.summary.get("metrics") or {}
        shown = ", ".join(f"{k} {v:.3g}" for k, v in sorted(metrics.items()) if v is not None)
        share = "-" if r.share_drifted is None else f"{r.share_drifted:.2f}"
        table.add_row(
            r.id,
            r.model,
            r.version or "-",
            format_time(r.window_end),
            str(r.num_rows),
            share,
            shown[:60],
        )
    console().print(table)


@app.command("alerts")
def alerts_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="open or resolved (default: both).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List alerts raised by monitoring, newest first."""
    from rich.table import Table

    from mloop.cli.output import console, format_time, print_json
    from mloop.errors import ValidationError
    from mloop.metadata import connect

    if state not in (None, "open", "resolved"):
        raise ValidationError(f"--state must be 'open' or 'resolved', not {state!r}")
    settings = state_of(ctx).settings()
    rows = (
        connect(settings.metadata_url).monitoring().list_alerts(model, state=state, limit=limit)
        if store_exists(settings.metadata_url)
        else []
    )
    if as_json:
        print_json([_as_dict(r) for r in rows])
        return
    table = Table("id", "model", "rule", "state", "severity", "opened", "seen", "message")
    for a in rows:
        table.add_row(
            a.id,
            a.model,
            a.rule,
            a.state,
            a.severity,
            format_time(a.opened_at),
            str(a.occurrences),
            a.message[:70],
        )
    console().print(table)
