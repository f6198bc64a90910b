"""``error_rate`` is the service's: failed requests (the error log) over all requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mloop.monitoring import list_alerts, run_monitoring

pytestmark = pytest.mark.slow  # real models and logs: a few seconds a file

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_error_rate_counts_failed_requests_per_version(project) -> None:
    first = project.register()
    second = project.register()
    at = NOW - timedelta(minutes=10)
    project.serve(first, rows=400, request_rows=4, at=at, seed=3)  # 100 answered requests
    project.fail(first, requests=10, status=422, at=at)
    project.serve(second, rows=80, request_rows=4, at=at, seed=4)  # 20 answered requests
    project.fail(second, requests=15, status=500, at=at)
    project.fail(second, requests=5, status=422, at=at)
    report = run_monitoring("credit", window="1h", now=NOW)
    assert report.num_requests == 120  # answered, from the prediction log
    assert report.requests == 150 and report.failed_requests == 30
    assert report.error_rate == pytest.approx(30 / 150)
    assert report.server_failed_requests == 15
    assert report.server_error_rate == pytest.approx(15 / 150)
    one, two = report.by_version[str(first)], report.by_version[str(second)]
    assert (one["requests"], one["failed_requests"]) == (110, 10)
    assert one["error_rate"] == pytest.approx(10 / 110) and one["server_error_rate"] == 0.0
    assert (two["requests"], two["answered_requests"], two["failed_requests"]) == (40, 20, 20)
    assert two["error_rate"] == pytest.approx(0.5)
    assert report.value("error_rate") == (pytest.approx(0.2), 150)
    summary = report.record().summary
    assert summary["error_rate"] == pytest.approx(0.2) and summary["failed_requests"] == 30
    # without feedback there is no misclassification rate, and error_rate is not in metrics
    assert "misclassification_rate" not in report.metrics and "error_rate" not in report.metrics


def test_error_rule_fires_and_resolves(project) -> None:
    version = project.register()
    rules = [{"name": "errors", "metric": "error_rate", "above": 0.1, "min_rows": 20}]
    project.serve(version, rows=80, at=NOW - timedelta(minutes=90), seed=3)  # 20 requests
    project.fail(version, requests=10, at=NOW - timedelta(minutes=90))  # 10/30 failed
    project.serve(version, rows=80, at=NOW - timedelta(minutes=30), seed=4)
    project.fail(version, requests=1, at=NOW - timedelta(minutes=30))  # 1/21 failed
    sent: list[dict] = []
    bad = run_monitoring(
        "credit", window="1h", now=NOW - timedelta(hours=1), rules=rules, notify=sent.append
    )
    (alert,) = bad.alerts
    assert alert.rule == "errors" and alert.value == pytest.approx(1 / 3)
    assert sent[0]["event"] == "alert.opened" and sent[0]["alert"]["payload"]["rows"] == 30
    healthy = run_monitoring("credit", window="1h", now=NOW, rules=rules, notify=sent.append)
    assert healthy.alerts == [] and healthy.error_rate == pytest.approx(1 / 21)
    assert sent[-1]["event"] == "alert.resolved"
    assert list_alerts("credit", state="open") == []


def test_a_window_where_every_request_failed_is_judged(project) -> None:
    good = project.register()
    bad = project.register()  # promoted now: on probation
    project.fail(bad, requests=30, status=500, at=NOW - timedelta(minutes=5))
    report = run_monitoring(
        "credit",
        window="1h",
        now=NOW,
        rules=[{"name": "errors", "metric": "error_rate", "above": 0.1}],
        rollback={"rules": [{"metric": "error_rate", "above": 0.2, "min_rows": 20}]},
    )
    assert report.num_rows == 0 and report.requests == 30 and report.error_rate == 1.0
    assert [a.rule for a in report.alerts] == ["errors"]
    assert report.rollback is not None and report.rollback["to_version"] == good
    assert "30 requests" in report.rollback["reason"]
    registry = project.store().model_registry()
    assert registry.get_alias("credit", "production") == good
