"""``mloop ci``: run the project's CI checks (unit tests, smoke runs of its pipelines into a
throwaway store, convergence, NaN/inf, declared artifacts, integration between steps, schema
compatibility with what the target environment serves) and report them.

Exit codes: 0 every check passed (skipped ones included), 1 a check failed, 2 a usage error
(an unknown environment, a broken mloop.yaml). ``--junit`` and ``--markdown`` write the JUnit
XML and the Markdown summary a CI system reads and posts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mloop.cli.options import EnvOption, JsonOption
from mloop.cli.state import state_of

EXIT_CHECK_FAILED = 1

app = typer.Typer(add_completion=False)


@app.command("ci")
def ci_command(
    ctx: typer.Context,
    env: EnvOption = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write the JUnit XML report here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the Markdown summary here.")
    ] = None,
    json_out: JsonOption = False,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Do not record a 'ci' run in the store.")
    ] = False,
) -> None:
    """Run the CI checks of this project against the target environment (--env)."""
    from mloop.cicd.ci.checks import record_report, run_ci
    from mloop.cicd.ci.junit import to_junit_xml
    from mloop.cicd.ci.markdown_report import to_markdown
    from mloop.cli.output import print_json

    settings = state_of(ctx).settings(env)
    report = run_ci(settings)
    xml = to_junit_xml(report)
    if not no_record:
        report.run_id = record_report(report, settings, xml)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(xml, encoding="utf-8")
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(to_markdown(report), encoding="utf-8")
    if json_out:
        print_json(report.to_dict())
    else:
        _print_table(report)
    if not report.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print_table(report: object) -> None:
    from rich.table import Table

    from mloop.cicd.ci.results import CiReport
    from mloop.cli.output import console, format_duration

    assert isinstance(report, CiReport)
    styles = {"passed": "green", "failed": "bold red", "error": "bold red", "skipped": "dim"}
    table = Table(title=f"mloop ci · {report.project} · env {report.environment}")
    table.add_column("suite")
    table.add_column("check")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("message", overflow="fold")
    for c in report.checks:
        table.add_row(
            c.suite,
            c.name,
            f"[{styles[c.status]}]{c.status}[/]",
            format_duration(c.duration_s),
            c.message,
        )
    console().print(table)
    counts = report.counts()
    verdict = "[bold green]passed[/]" if report.passed else "[bold red]failed[/]"
    console().print(
        f"CI {verdict}: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped in "
        f"{format_duration(report.duration_s)}"
        + (f" · recorded as run [bold]{report.run_id}[/]" if report.run_id else "")
    )
