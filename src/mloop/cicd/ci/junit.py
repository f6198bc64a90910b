"""JUnit XML for ``mloop ci`` (one ``<testsuite>`` per suite, one ``<testcase>`` per check),
the format GitHub Actions, GitLab CI and Jenkins read test reports from, and a reader of the
same format (used for the pytest results of the project's own tests).

The layout is the common "xunit2" one (what pytest and Jenkins' JUnit plugin write)::

    <testsuites name="mloop ci" tests= failures= errors= skipped= time=>
      <testsuite name= tests= failures= errors= skipped= time=>
        <testcase classname= name= time=>
          <failure message=>details</failure> | <error .../> | <skipped message=/>
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from mloop.cicd.ci.results import CiReport, Status

__all__ = ["JunitCase", "read_junit", "to_junit_xml"]


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def to_junit_xml(report: CiReport) -> str:
    """The report as a JUnit XML document (UTF-8 text with its XML declaration)."""
    counts = report.counts()
    root = ET.Element(
        "testsuites",
        {
            "name": f"mloop ci ({report.project}, env {report.environment})",
            "tests": str(len(report.checks)),
            "failures": str(counts["failed"]),
            "errors": str(counts["error"]),
            "skipped": str(counts["skipped"]),
            "time": _seconds(report.duration_s),
        },
    )
    for suite_name, checks in report.suites().items():
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": suite_name,
                "tests": str(len(checks)),
                "failures": str(sum(c.status == "failed" for c in checks)),
                "errors": str(sum(c.status == "error" for c in checks)),
                "skipped": str(sum(c.status == "skipped" for c in checks)),
                "time": _seconds(sum(c.duration_s for c in checks)),
            },
        )
        for check in checks:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": f"mloop.ci.{suite_name}",
                    "name": check.name,
                    "time": _seconds(check.duration_s),
                },
            )
            if check.status in ("failed", "error", "skipped"):
                tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[check.status]
                child = ET.SubElement(case, tag, {"message": check.message})
                if check.status != "skipped":
                    child.set("type", "mloop.ci." + tag)
                    child.text = check.details or check.message
            elif check.message or check.details:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(p for p in (check.message, check.details) if p)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class JunitCase:
    """One test case read from a JUnit XML report (times in seconds)."""

    suite: str
    name: str
    status: Status
    message: str
    details: str
    duration_s: float


def read_junit(text: str) -> list[JunitCase]:
    """The test cases of a JUnit XML document (``<testsuites>`` or a single ``<testsuite>``);
    the case name is ``classname::name`` when a class name is given, as pytest prints it."""
    root = ET.fromstring(text)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    cases: list[JunitCase] = []
    for suite in suites:
        for case in suite.iter("testcase"):
            status: Status = "passed"
            message = details = ""
            for tag, kind in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
                found = case.find(tag)
                if found is not None:
                    status = kind  # type: ignore[assignment]
                    raw = (found.get("message") or "").strip()
                    message = raw.splitlines()[0] if raw else tag
                    details = (found.text or "").strip()
                    break
            classname = case.get("classname") or ""
            name = case.get("name") or "?"
            cases.append(
                JunitCase(
                    suite=suite.get("name") or "",
                    name=f"{classname}::{name}" if classname else name,
                    status=status,
                    message=message,
                    details=details,
                    duration_s=float(case.get("time") or 0.0),
                )
            )
    return cases
