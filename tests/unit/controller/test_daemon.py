"""One controller tick: leadership, concurrency, backoff, debouncing and closing events.

Runs are replaced by tiny child processes (the launch command is injectable), so these tests
check the controller's decisions, not pipelines; tests/integration/test_controller_*.py run real
pipelines.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from mloop._utils.clock import utc_now
from mloop.config import load_settings
from mloop.controller.daemon import LEASE_NAME, Controller
from mloop.controller.triggers import ReportSummary
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState

SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]
FAILER = [sys.executable, "-c", "raise SystemExit(3)"]


class ListedReports:
    def __init__(self) -> None:
        self.reports: list[ReportSummary] = []

    def reports_since(self, model, since):
        return [r for r in self.reports if since is None or r.created_at > since]


def make(project_dir: Path, triggers: list, **kw) -> Controller:
    (project_dir / "mloop.yaml").write_text(
        yaml.safe_dump(
            {"pipelines": {"training": {"entrypoint": "p.py:training", "triggers": triggers}}}
        )
    )
    settings = load_settings(project_dir)
    return Controller(settings, connect(settings.metadata_url), interval_s=1, **kw)


@pytest.fixture
def children():
    started: list[Controller] = []
    yield started
    for controller in started:  # end only the processes these tests started
        for child in controller._children.values():
            child.kill()
            child.wait()


def test_only_the_lease_holder_starts_runs(project_dir: Path, children) -> None:
    ctl = make(project_dir, [], launch_command=SLEEPER)
    children.append(ctl)
    event = ctl.state.record_event("training", "on_demand", "please")
    assert ctl.state.acquire_lease(LEASE_NAME, "someone-else", 30)
    assert not ctl.tick().leader
    assert ctl.state.get_event(event.id).state is EventState.PENDING
    ctl.state.release_lease(LEASE_NAME, "someone-else")
    result = ctl.tick()
    assert result.leader and [e.id for e in result.started] == [event.id]
    assert ctl.state.get_event(event.id).claimed_by == ctl.holder


def test_at_most_max_concurrent_runs_start_oldest_first(project_dir: Path, children) -> None:
    ctl = make(project_dir, [{"policy": {"max_concurrent": 2}}], launch_command=SLEEPER)
    children.append(ctl)
    ids = [ctl.state.record_event("training", "on_demand", f"#{i}").id for i in range(3)]
    assert [e.id for e in ctl.tick().started] == ids[:2]
    assert ctl.tick().started == []  # both still running
    assert ctl.state.get_event(ids[2]).state is EventState.PENDING


def test_failures_back_off_exponentially(project_dir: Path, children) -> None:
    ctl = make(
        project_dir, [{"policy": {"backoff_s": 100, "max_concurrent": 5}}], launch_command=FAILER
    )
    children.append(ctl)
    first = ctl.state.record_event("training", "on_demand", "one")
    ctl.tick()
    ctl.wait_for_children(10)
    ctl.state.record_event("training", "on_demand", "two")
    result = ctl.tick()
    assert result.finished == [first.id] and result.started == []  # failed -> backing off
    failed = ctl.state.get_event(first.id)
    assert failed.state is EventState.FAILED and "exited with code 3" in failed.error
    later = utc_now() + timedelta(seconds=101)
    second = ctl.tick(now=later).started
    assert len(second) == 1
    ctl.wait_for_children(10)
    ctl.state.record_event("training", "on_demand", "three")
    ctl.tick()  # closes the second failure (ended now): 2 in a row -> 200 s
    assert ctl.tick(now=utc_now() + timedelta(seconds=150)).started == []
    assert len(ctl.tick(now=utc_now() + timedelta(seconds=250)).started) == 1


def test_drift_reports_fire_then_debounce(project_dir: Path, children) -> None:
    reports = ListedReports()
    ctl = make(
        project_dir,
        [{"drift": {"model": "lending"}}, {"policy": {"debounce_s": 300}}],
        launch_command=SLEEPER,
        reports=reports,
    )
    children.append(ctl)
    assert ctl.tick().fired == []
    now = utc_now()
    reports.reports += [
        ReportSummary("r1", "lending", "1", now + timedelta(seconds=1), 0.5),
        ReportSummary("r2", "lending", "1", now + timedelta(seconds=2), 0.7),
    ]
    first = ctl.tick()
    assert [e.payload["report_id"] for e in first.fired] == ["r1"]
    assert [e.id for e in first.started] == [first.fired[0].id]
    second = ctl.tick()
    assert second.fired == [] and [e.payload["report_id"] for e in second.skipped] == ["r2"]
    assert second.skipped[0].reason.startswith("debounced:")
    assert ctl.tick().fired == ctl.tick().skipped == []  # each report is acted on once


def test_events_for_unknown_pipelines_fail_with_advice(project_dir: Path) -> None:
    ctl = make(project_dir, [], launch_command=SLEEPER)
    event = ctl.state.record_event("scoring", "on_demand", "typo")
    ctl.tick()
    failed = ctl.state.get_event(event.id)
    assert failed.state is EventState.FAILED and "mloop.yaml" in failed.error


def test_sigterm_ends_the_loop_after_the_tick_and_releases_the_lease(project_dir: Path) -> None:
    import os
    import signal
    import threading

    ctl = make(project_dir, [])
    ctl.interval_s = 0.05
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    ctl.run_forever()  # returns instead of dying: the handler only sets the stop flag
    timer.join()
    lease = ctl.state.get_lease(LEASE_NAME)
    assert lease.holder == ctl.holder and lease.expires_at <= utc_now()
    assert signal.getsignal(signal.SIGTERM) == before  # the previous handler is back


def test_once_acts_on_a_report_recorded_before_it_started(project_dir: Path, children) -> None:
    """The cron pattern: a monitoring job records a drifted report, then a fresh controller
    (``mloop controller --once``) reads it from the metadata store and starts the retrain."""
    from mloop.metadata.monitoring_records import MonitoringRecord

    settings_dir = project_dir
    ctl = make(settings_dir, [{"drift": {"model": "lending"}}], launch_command=SLEEPER)
    earlier = utc_now() - timedelta(minutes=1)
    ctl.store.monitoring().add_report(
        MonitoringRecord(
            id="rep1",
            model="lending",
            window_start=earlier - timedelta(hours=1),
            window_end=earlier,
            created_at=earlier,
            num_rows=400,
            dataset_drifted=True,
            version="1",
            share_drifted=0.67,
        )
    )
    fresh = make(settings_dir, [{"drift": {"model": "lending"}}], launch_command=SLEEPER)
    children.append(fresh)
    result = fresh.tick()
    assert [e.payload["report_id"] for e in result.fired] == ["rep1"]
    assert len(result.started) == 1
    assert fresh.tick().fired == []
