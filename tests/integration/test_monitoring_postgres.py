"""Monitoring on PostgreSQL: alert deduplication holds under concurrent jobs, and a whole
monitoring job (lineage, report, alerts, rollback) runs against it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mloop.metadata import connect

pytestmark = pytest.mark.integration


def test_concurrent_jobs_open_one_alert(postgres_url: str) -> None:
    rows = connect(postgres_url).monitoring()
    barrier = threading.Barrier(8)
    created: list[bool] = []

    def job() -> None:
        barrier.wait(5)
        _, new = rows.raise_alert("m", "drift", severity="warning", message="x", value=0.5)
        created.append(new)

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(created) == [False] * 7 + [True]
    (alert,) = rows.list_alerts("m", state="open")
    assert alert.occurrences == 8
    assert rows.resolve_alert("m", "drift") is not None
    assert rows.list_alerts("m", state="open") == []


def test_a_whole_monitoring_job_on_postgres(
    project_dir: Path, monitoring_kit: Any, postgres_url: str
) -> None:
    """Lineage, report row, alerts (raised once, refreshed, resolved) and a rollback, with the
    metadata store on PostgreSQL: the project's mloop.yaml points there."""
    from mloop.metadata.lineage import lineage
    from mloop.monitoring import list_alerts, list_reports, render_html, run_monitoring

    (project_dir / "mloop.yaml").write_text(
        "project: watched\n"
        f"environments:\n  dev:\n    metadata: '{postgres_url}'\n"
        "default_environment: dev\n"
    )
    kit = monitoring_kit
    project = kit.Project(project_dir)
    store = project.store()
    assert store.url.startswith("postgresql")
    good = project.register("good")  # training data logged as the run's Dataset artifact
    now = datetime.now(timezone.utc)
    rules = [
        {"name": "drift", "metric": "share_drifted", "above": 0.3},
        {"name": "errors", "metric": "error_rate", "above": 0.1, "min_rows": 20},
    ]
    project.serve(good, at=now - timedelta(minutes=100), seed=3, shift=1.5, feedback=1.0)
    project.fail(good, requests=20, at=now - timedelta(minutes=100))  # 20 of 120 failed
    project.serve(good, at=now - timedelta(minutes=40), seed=4, shift=1.5, feedback=1.0)
    first = run_monitoring("credit", window="1h", now=now - timedelta(hours=1), rules=rules)
    assert first.reference_source == "computed_from_training_data"
    assert set(first.drift.drifted_features) == {"income", "age"}
    assert first.error_rate == pytest.approx(20 / 120)
    assert {a.rule for a in first.alerts} == {"drift", "errors"}
    second = run_monitoring("credit", window="1h", now=now, rules=rules)
    assert [a.rule for a in second.alerts] == ["drift"]  # errors resolved, drift refreshed
    (drift,) = list_alerts("credit", state="open")
    assert drift.rule == "drift" and drift.occurrences == 2
    assert [a.rule for a in list_alerts("credit", state="resolved")] == ["errors"]

    rows = list_reports("credit")
    assert [r.id for r in rows] == [second.id, first.id]
    assert rows[0].dataset_drifted and rows[0].summary["metrics"]["accuracy"] > 0.5
    assert rows[1].summary["failed_requests"] == 20 and rows[1].run_id == first.run_id
    # lineage: training data -> monitor execution -> report artifact
    assert store.get_artifact(first.reference_artifact_id).type == "Dataset"
    (execution,) = store.list_executions(first.run_id)
    events = {e.kind.value: e.artifact_id for e in store.list_events(execution_id=execution.id)}
    assert events == {"input": first.reference_artifact_id, "output": first.artifact_id}
    assert first.reference_artifact_id in str(lineage(store, first.artifact_id, "upstream"))
    page = render_html("credit", rows, second, list_alerts("credit"))
    assert "error rate (failed requests)" in page

    bad = project.register("constant")  # promoted now: on probation
    project.serve(bad, at=now - timedelta(minutes=2), seed=5, feedback=1.0)
    project.fail(bad, requests=50, status=500, at=now - timedelta(minutes=2))
    policy = {"probation": "1h", "rules": [{"metric": "error_rate", "above": 0.2}]}
    third = run_monitoring("credit", window="5m", now=now, rollback=policy)
    assert third.rollback is not None and third.rollback["to_version"] == good
    assert store.model_registry().get_alias("credit", "production") == good
    last = store.model_registry().alias_history("credit", "production")[-1]
    assert last.kind == "rollback" and "error_rate" in last.reason
    assert {a.rule for a in list_alerts("credit", state="open")} == {"drift", "rollback:production"}
