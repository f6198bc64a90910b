"""The Markdown summary of ``mloop ci`` that a CI system posts (a GitHub job summary, a pull
or merge request comment): one status line, a table per suite, the evidence of what failed."""

from __future__ import annotations

from mloop.cicd.ci.results import CiReport

__all__ = ["to_markdown"]

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}


def _cell(text: str) -> str:
    """Table-safe text: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(report: CiReport) -> str:
    counts = report.counts()
    verdict = "passed" if report.passed else "failed"
    lines = [
        f"## mloop ci {ICONS['passed'] if report.passed else ICONS['failed']} {verdict}",
        "",
        f"Project **{report.project}**, target environment **{report.environment}**: "
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, "
        f"{counts['skipped']} skipped in {report.duration_s:.1f} s"
        + (f" (run `{report.run_id}`)" if report.run_id else "")
        + ".",
        "",
    ]
    for suite, checks in report.suites().items():
        lines += [f"### {suite}", "", "| | check | result |", "|---|---|---|"]
        lines += [f"| {ICONS[c.status]} | {_cell(c.name)} | {_cell(c.message)} |" for c in checks]
        lines.append("")
    failures = [c for c in report.checks if c.status in ("failed", "error") and c.details]
    if failures:
        lines += ["### Details", ""]
        for c in failures:
            lines += [
                "<details><summary>" + _cell(f"{c.suite} / {c.name}") + "</summary>",
                "",
                "```",
                c.details.strip()[:4000],
                "```",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
