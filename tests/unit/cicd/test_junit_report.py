"""The JUnit XML and Markdown reports of ``mloop ci``: structure, counts, round trip."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mloop.cicd.ci.junit import read_junit, to_junit_xml
from mloop.cicd.ci.markdown_report import to_markdown
from mloop.cicd.ci.results import CheckResult, CiReport


def report() -> CiReport:
    return CiReport(
        "demo",
        "staging",
        [
            CheckResult("unit-tests", "tests.test_f::test_a", "passed", duration_s=0.25),
            CheckResult(
                "pipeline:training", "smoke run", "failed", "boom <&> | pipe", "trace\nline"
            ),
            CheckResult("pipeline:training", "no NaN/inf", "error", "could not load"),
            CheckResult("pipeline:training", "training converges", "skipped", "no curves"),
        ],
        duration_s=1.5,
    )


def test_junit_xml_has_suites_cases_and_counts() -> None:
    root = ET.fromstring(to_junit_xml(report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "4",
        "1",
        "1",
        "1",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["unit-tests", "pipeline:training"]
    training = suites[1]
    assert training.get("tests") == "3" and training.get("failures") == "1"
    cases = training.findall("testcase")
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message") == "boom <&> | pipe"
    assert failure.text == "trace\nline"
    assert cases[1].find("error") is not None
    assert cases[2].find("skipped") is not None
    assert float(suites[0].find("testcase").get("time")) == pytest.approx(0.25)


def test_junit_xml_reads_back_with_junitparser() -> None:
    junitparser = pytest.importorskip("junitparser")
    xml = junitparser.JUnitXml.fromstring(to_junit_xml(report()))
    suites = list(xml)
    assert [s.name for s in suites] == ["unit-tests", "pipeline:training"]
    results = {c.name: [type(r).__name__ for r in c.result] for s in suites for c in s}
    assert results == {
        "tests.test_f::test_a": [],
        "smoke run": ["Failure"],
        "no NaN/inf": ["Error"],
        "training converges": ["Skipped"],
    }


def test_read_junit_round_trips_the_statuses() -> None:
    cases = read_junit(to_junit_xml(report()))
    assert [(c.status, c.message) for c in cases] == [
        ("passed", ""),
        ("failed", "boom <&> | pipe"),
        ("error", "could not load"),
        ("skipped", "no curves"),
    ]


def test_report_passes_only_without_failures_or_errors() -> None:
    assert not report().passed
    ok = CiReport(
        "demo", "dev", [CheckResult("s", "a", "passed"), CheckResult("s", "b", "skipped")]
    )
    assert ok.passed and ok.counts() == {"passed": 1, "failed": 0, "error": 0, "skipped": 1}


def test_markdown_summary_escapes_pipes_and_shows_details() -> None:
    text = to_markdown(report())
    assert text.startswith("## mloop ci ❌ failed")
    assert "boom <&> \\| pipe" in text  # a pipe would split the table cell
    assert "### pipeline:training" in text and "<details>" in text and "trace\nline" in text
