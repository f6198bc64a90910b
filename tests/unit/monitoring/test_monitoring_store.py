from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mloop.errors import NotFoundError
from mloop.metadata import connect
from mloop.metadata.monitoring_records import MonitoringRecord


@pytest.fixture
def rows(tmp_path: Path):
    return connect(f"sqlite:///{tmp_path / 'm.db'}").monitoring()


def test_one_open_alert_per_model_and_rule_until_resolved(rows) -> None:
    first, created = rows.raise_alert("m", "drift", severity="warning", message="a", value=0.5)
    again, created_again = rows.raise_alert("m", "drift", severity="warning", message="b")
    _, other_created = rows.raise_alert("n", "drift", severity="warning", message="c")
    assert created and not created_again and other_created
    assert again.id == first.id and again.occurrences == 2 and again.message == "b"
    assert len(rows.list_alerts("m", state="open")) == 1
    resolved = rows.resolve_alert("m", "drift")
    assert resolved is not None and resolved.state == "resolved" and resolved.resolved_at
    assert rows.resolve_alert("m", "drift") is None
    reopened, created = rows.raise_alert("m", "drift", severity="warning", message="d")
    assert created and reopened.id != first.id
    assert [a.state for a in rows.list_alerts("m")] == ["open", "resolved"]


def test_reports_listed_newest_window_first(rows) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(3):
        rows.add_report(
            MonitoringRecord(
                id=f"r{i}",
                model="m",
                window_start=t0 + timedelta(hours=i),
                window_end=t0 + timedelta(hours=i + 1),
                created_at=t0,
                num_rows=10 * i,
                dataset_drifted=i == 2,
                share_drifted=i / 4,
                summary={"metrics": {"accuracy": 0.9}},
            )
        )
    got = rows.list_reports("m")
    assert [r.id for r in got] == ["r2", "r1", "r0"]
    assert got[0].dataset_drifted and got[0].summary["metrics"]["accuracy"] == 0.9
    assert [r.id for r in rows.list_reports("m", since=t0 + timedelta(hours=2))] == ["r2", "r1"]
    assert rows.get_report("r1").num_rows == 10
    with pytest.raises(NotFoundError, match="mloop monitor reports"):
        rows.get_report("nope")
