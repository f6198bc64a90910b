"""Alerts from monitoring reports: raised, deduplicated while the condition lasts, resolved."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mloop.monitoring import list_alerts, run_monitoring

pytestmark = pytest.mark.slow  # real models and logs: a few seconds a file

NOW = datetime.now(timezone.utc).replace(microsecond=0)
RULES = [
    {"name": "drift", "metric": "share_drifted", "above": 0.3},
    {"name": "slow", "metric": "latency_p99_ms", "above": 50, "severity": "critical"},
    {"name": "accuracy-floor", "metric": "accuracy", "below": 0.8, "min_rows": 50},
]


def test_alert_opens_once_while_the_condition_lasts_then_resolves(project) -> None:
    version = project.register()
    sent: list[dict] = []
    for hours in (3, 2):  # two drifting, slow hours
        project.serve(
            version,
            at=NOW - timedelta(hours=hours, minutes=-10),
            shift=1.5,
            seed=hours,
            latency_ms=80.0,
        )
    project.serve(version, at=NOW - timedelta(minutes=50), seed=9)  # healthy again

    first = run_monitoring(
        "credit", window="1h", now=NOW - timedelta(hours=2), rules=RULES, notify=sent.append
    )
    assert {a.rule for a in first.alerts} == {"drift", "slow"}
    assert [p["event"] for p in sent] == ["alert.opened", "alert.opened"]
    second = run_monitoring(
        "credit", window="1h", now=NOW - timedelta(hours=1), rules=RULES, notify=sent.append
    )
    assert len(sent) == 2  # same incident: refreshed, not re-notified
    assert {a.id for a in second.alerts} == {a.id for a in first.alerts}
    open_alerts = {a.rule: a for a in list_alerts("credit", state="open")}
    assert set(open_alerts) == {"drift", "slow"}
    assert open_alerts["drift"].occurrences == 2 and open_alerts["slow"].severity == "critical"
    assert open_alerts["slow"].value == 80.0 and open_alerts["slow"].threshold == 50.0

    healthy = run_monitoring("credit", window="1h", now=NOW, rules=RULES, notify=sent.append)
    assert healthy.alerts == []
    assert sorted(p["alert"]["rule"] for p in sent[2:]) == ["drift", "slow"]
    assert {p["event"] for p in sent[2:]} == {"alert.resolved"}
    assert list_alerts("credit", state="open") == []
    assert len(list_alerts("credit", state="resolved")) == 2


def test_metric_floor_needs_labels(project) -> None:
    bad = project.register("constant")  # always predicts 0
    project.serve(bad, at=NOW - timedelta(minutes=30), seed=5, feedback=0.0)
    unlabelled = run_monitoring("credit", window="1h", now=NOW, rules=RULES[2:])
    assert unlabelled.alerts == []  # no labels: not judged
    project.serve(bad, at=NOW - timedelta(minutes=20), seed=6, feedback=1.0)
    labelled = run_monitoring("credit", window="1h", now=NOW, rules=RULES[2:])
    (alert,) = labelled.alerts
    assert alert.rule == "accuracy-floor" and alert.value < 0.8
    assert labelled.metrics["misclassification_rate"] > 0.2


def test_rules_come_from_mloop_yaml(project) -> None:
    (project.root / "mloop.yaml").write_text(
        "monitoring:\n  window: 2h\n"
        "  rules:\n    - {name: drift, metric: share_drifted, above: 0.3}\n"
    )
    version = project.register()
    project.serve(version, at=NOW - timedelta(minutes=100), shift=2.0, seed=2)
    report = run_monitoring("credit", now=NOW)  # the 2 h window reaches the shifted rows
    assert report.window_end - report.window_start == timedelta(hours=2)
    assert [a.rule for a in report.alerts] == ["drift"]
