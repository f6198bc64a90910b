"""Automatic rollback of a version that breaks its rule on probation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mloop.monitoring import list_alerts, run_monitoring
from mloop.monitoring.rollback import ROLLBACK_ACTOR, previous_version

pytestmark = pytest.mark.slow  # real models and logs: a few seconds a file

POLICY = {
    "alias": "production",
    "probation": "1h",
    "rules": [{"metric": "misclassification_rate", "above": 0.2, "min_rows": 50}],
}


def _production(project) -> int:
    return project.store().model_registry().get_alias("credit", "production")


def test_bad_version_on_probation_is_rolled_back(project) -> None:
    good = project.register("good")
    bad = project.register("constant")  # promoted now: on probation for an hour
    assert _production(project) == bad
    now = datetime.now(timezone.utc)
    project.serve(bad, at=now - timedelta(minutes=1), seed=5, feedback=1.0)
    sent: list[dict] = []
    report = run_monitoring("credit", window="1h", now=now, rollback=POLICY, notify=sent.append)
    assert report.rollback is not None
    assert report.rollback["from_version"] == bad and report.rollback["to_version"] == good
    assert _production(project) == good
    last = project.store().model_registry().alias_history("credit", "production")[-1]
    assert last.kind == "rollback" and last.actor == ROLLBACK_ACTOR
    assert "misclassification_rate" in last.reason and "probation" in last.reason
    (alert,) = list_alerts("credit", state="open")
    assert alert.rule == "rollback:production" and alert.severity == "critical"
    assert sent and sent[-1]["alert"]["payload"]["to_version"] == good
    # the restored version is not on probation: a second job does not roll back further
    again = run_monitoring("credit", window="1h", now=now, rollback=POLICY)
    assert again.rollback is None and _production(project) == good


def test_no_rollback_after_probation_or_when_healthy(project) -> None:
    project.register("good")
    bad = project.register("constant")
    later = datetime.now(timezone.utc) + timedelta(hours=2)  # probation is over by then
    project.serve(bad, at=later - timedelta(minutes=1), seed=5, feedback=1.0)
    report = run_monitoring("credit", window="1h", now=later, rollback=POLICY)
    assert report.rollback is None and _production(project) == bad
    assert (
        report.by_version[str(bad)]["metrics"]["misclassification_rate"] > 0.2
    )  # it did break the rule
    fine = project.register("good")
    now = datetime.now(timezone.utc)
    project.serve(fine, at=now - timedelta(seconds=30), seed=6, feedback=1.0)
    healthy = run_monitoring("credit", window="1m", now=now, rollback=POLICY)
    assert healthy.rollback is None and _production(project) == fine


def test_previous_version_replays_the_history_as_a_stack(project) -> None:
    from mloop.metadata.model_registry import AliasChange

    t = datetime.now(timezone.utc)

    def change(to: int, kind: str = "set") -> AliasChange:
        return AliasChange(0, "m", "production", None, to, kind, "me", "", t)

    assert previous_version([change(1)]) is None
    assert previous_version([change(1), change(2), change(3)]) == 2
    assert previous_version([change(1), change(2), change(3), change(2, "rollback")]) == 1
