"""Trigger rules: when each fires, what it records, and how bad configuration is refused."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mloop.controller.triggers import (
    DegradationTrigger,
    DriftTrigger,
    NewDataTrigger,
    Policy,
    ReportSummary,
    ScheduleTrigger,
    TriggerContext,
    debounced,
    parse_triggers,
)
from mloop.errors import ConfigError
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


@dataclass
class ListedReports:
    """Reports held in a list, filtered like the monitoring store does."""

    reports: list[ReportSummary] = field(default_factory=list)

    def reports_since(self, model: str, since: datetime | None) -> list[ReportSummary]:
        return [
            r for r in self.reports if r.model == model and (since is None or r.created_at > since)
        ]


@pytest.fixture
def state(tmp_path: Path):
    return connect(f"sqlite:///{tmp_path}/m.db").controller_state()


def ctx(state, tmp_path: Path, now: datetime, reports=None, **kw) -> TriggerContext:
    return TriggerContext(
        pipeline="training",
        now=now,
        started_at=T0,
        project_dir=tmp_path,
        state=state,
        reports=reports or ListedReports(),
        **kw,
    )


def fire_and_record(rule, c: TriggerContext):
    firing = rule.check(c)
    if firing is not None:
        c.state.record_event(c.pipeline, firing.kind, firing.reason, firing.payload)
    return firing


def test_schedule_fires_once_per_due_time(state, tmp_path: Path) -> None:
    rule = ScheduleTrigger("0 3 * * *")
    assert rule.check(ctx(state, tmp_path, T0 + timedelta(minutes=59))) is None
    first = fire_and_record(rule, ctx(state, tmp_path, T0 + timedelta(hours=1, seconds=5)))
    assert first is not None and first.payload["scheduled_for"].startswith("2026-11-24T03:00")
    assert rule.check(ctx(state, tmp_path, T0 + timedelta(hours=2))) is None
    # two days missed collapse into one firing for the latest due time
    late = rule.check(ctx(state, tmp_path, T0 + timedelta(days=2, hours=2)))
    assert late is not None and late.payload["scheduled_for"].startswith("2026-11-26T03:00")


def test_schedule_refuses_a_bad_expression() -> None:
    with pytest.raises(ConfigError, match="cron"):
        ScheduleTrigger("every day")


def test_new_data_fires_on_files_newer_than_the_last_firing(state, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    (incoming / "day=1").mkdir(parents=True)
    rule = NewDataTrigger("incoming", min_files=2)
    now = datetime.now(timezone.utc)
    (incoming / "day=1" / "a.parquet").write_text("a")
    (incoming / "_SUCCESS").write_text("")
    assert rule.check(ctx(state, tmp_path, now)) is None  # one file; markers do not count
    (incoming / "day=1" / "b.parquet").write_text("b")
    first = fire_and_record(rule, ctx(state, tmp_path, now))
    assert first is not None and first.payload["count"] == 2
    assert sorted(first.payload["files"]) == ["day=1/a.parquet", "day=1/b.parquet"]
    assert rule.check(ctx(state, tmp_path, now)) is None  # nothing new since
    for name in ("c", "d"):
        path = incoming / "day=2" / f"{name}.parquet"
        path.parent.mkdir(exist_ok=True)
        path.write_text(name)
        later = first.payload["watermark"] + 10
        os.utime(path, (later, later))
    second = rule.check(ctx(state, tmp_path, now))
    assert second is not None and second.payload["files"] == ["day=2/c.parquet", "day=2/d.parquet"]


def test_new_data_sees_a_file_moved_in_with_an_old_mtime(state, tmp_path: Path) -> None:
    """The atomic publish (write in staging, ``mv`` into the watched folder) keeps the mtime
    of the write, which may be older than the watermark of a firing in between; so does
    ``cp -p``. Such a file was never seen: the model never retrained on it."""
    incoming, staging = tmp_path / "incoming", tmp_path / "staging"
    incoming.mkdir()
    staging.mkdir()
    (staging / "early.parquet").write_text("written first, published last")
    old = (staging / "early.parquet").stat().st_mtime - 3600
    os.utime(staging / "early.parquet", (old, old))
    (incoming / "late.parquet").write_text("published first")
    rule = NewDataTrigger("incoming")
    first = fire_and_record(rule, ctx(state, tmp_path, T0))
    assert first is not None and first.payload["files"] == ["late.parquet"]
    assert rule.check(ctx(state, tmp_path, T0)) is None
    (staging / "early.parquet").rename(incoming / "early.parquet")  # mtime an hour old
    moved = rule.check(ctx(state, tmp_path, T0))
    assert moved is not None and moved.payload["files"] == ["early.parquet"]


def test_new_data_tells_files_of_the_same_instant_apart(
    state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files that arrived at the watermark's very time under another name are new (a
    watermark alone passed over them); the ones a firing listed are not."""
    from mloop.controller import triggers

    monkeypatch.setattr(triggers, "arrival_time", lambda st: 1_800_000_000.0)
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        (tmp_path / "in" / f"{name}.csv").write_text(name)
    rule = NewDataTrigger("in")
    first = fire_and_record(rule, ctx(state, tmp_path, T0))
    assert first is not None and first.payload["at_watermark"] == ["a.csv", "b.csv"]
    assert rule.check(ctx(state, tmp_path, T0)) is None
    (tmp_path / "in" / "c.csv").write_text("c")  # same instant, new name
    second = fire_and_record(rule, ctx(state, tmp_path, T0))
    assert second is not None and second.payload["files"] == ["c.csv"]
    assert sorted(second.payload["at_watermark"]) == ["a.csv", "b.csv", "c.csv"]
    assert rule.check(ctx(state, tmp_path, T0)) is None


def test_new_data_skips_what_vanishes_or_is_not_a_file(state, tmp_path: Path) -> None:
    """A dangling link (a writer's temporary renamed away between listing and stat) made the
    trigger raise, so the controller's tick failed; it is skipped."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "gone.parquet").symlink_to(tmp_path / "in" / "nowhere.parquet")
    (tmp_path / "in" / "real.parquet").write_text("x")
    firing = NewDataTrigger("in").check(ctx(state, tmp_path, T0))
    assert firing is not None and firing.payload["files"] == ["real.parquet"]


def test_new_data_uses_the_last_run_when_it_never_fired(state, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "old.csv").write_text("x")
    after = datetime.now(timezone.utc) + timedelta(seconds=5)
    rule = NewDataTrigger("in")
    assert rule.check(ctx(state, tmp_path, after, last_run_started=after)) is None
    assert rule.check(ctx(state, tmp_path, after, last_run_started=None)) is not None


def report(rid: str, minutes: int, share: float | None, **metrics: float) -> ReportSummary:
    return ReportSummary(rid, "lending", "3", T0 + timedelta(minutes=minutes), share, metrics)


def test_drift_fires_on_a_report_over_the_threshold_once(state, tmp_path: Path) -> None:
    reports = ListedReports([report("r1", 1, 0.1), report("r2", 2, 0.5)])
    rule = DriftTrigger("lending", share_of_drifted_features=0.3)
    now = T0 + timedelta(minutes=3)
    fired = fire_and_record(rule, ctx(state, tmp_path, now, reports))
    assert fired is not None and fired.payload["report_id"] == "r2"
    assert fired.payload["drift_share"] == 0.5 and "50%" in fired.reason
    assert rule.check(ctx(state, tmp_path, now, reports)) is None  # r2 already acted on
    reports.reports.append(report("r3", 4, 0.6))
    again = rule.check(ctx(state, tmp_path, now, reports))
    assert again is not None and again.payload["report_id"] == "r3"


def test_degradation_fires_when_the_metric_falls_below_the_floor(state, tmp_path: Path) -> None:
    reports = ListedReports(
        [report("ok", 1, None, roc_auc=0.9), report("bad", 2, None, roc_auc=0.7)]
    )
    rule = DegradationTrigger("lending", metric="roc_auc", below=0.8)
    fired = rule.check(ctx(state, tmp_path, T0 + timedelta(minutes=5), reports))
    assert fired is not None and fired.payload["report_id"] == "bad"
    assert "0.7000 < 0.8" in fired.reason
    other = DegradationTrigger("lending", metric="accuracy", below=0.8)
    assert other.check(ctx(state, tmp_path, T0 + timedelta(minutes=5), reports)) is None


def test_parse_triggers_reads_rules_and_policy() -> None:
    rules, policy = parse_triggers(
        "training",
        [
            {"schedule": "*/5 * * * *"},
            {"new_data": {"path": "data/in", "min_files": 3}},
            {"drift": {"model": "m", "share_of_drifted_features": 0.25}},
            {"degradation": {"model": "m", "metric": "roc_auc", "below": 0.8}},
            {"policy": {"max_concurrent": 2, "debounce_s": 5}},
        ],
    )
    assert [r.kind for r in rules] == ["schedule", "new_data", "drift", "degradation"]
    assert policy.max_concurrent == 2 and policy.debounce_s == 5


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"sometimes": 1}, "unknown trigger 'sometimes'"),
        ({"drift": {"model": "m", "share": 0.3}}, "unexpected keyword"),
        ({"drift": {"model": "m", "share_of_drifted_features": 3}}, r"\(0, 1\]"),
        ({"new_data": "data/"}, "takes a mapping"),
        ({"policy": {"max_concurrent": 0}}, "at least 1"),
        ({"schedule": "x", "drift": {}}, "one-key mapping"),
    ],
)
def test_parse_triggers_explains_bad_entries(entry, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_triggers("training", [entry])


def test_backoff_doubles_and_is_capped() -> None:
    policy = Policy(backoff_s=10, backoff_max_s=60)
    assert [policy.backoff_after(n) for n in range(6)] == [0, 10, 20, 40, 60, 60]


def test_debounce_ignores_skipped_events(state) -> None:
    now = datetime.now(timezone.utc)
    assert not debounced(state, "training", "drift", now, 60)
    state.record_event("training", "drift", "skipped one", state=EventState.SKIPPED)
    assert not debounced(state, "training", "drift", now, 60)
    state.record_event("training", "drift", "fired")
    assert debounced(state, "training", "drift", now, 60)
    assert not debounced(state, "training", "drift", now + timedelta(seconds=61), 60)
    assert not debounced(state, "training", "schedule", now, 60)


def test_report_rules_judge_reports_from_before_the_controller_started(
    state, tmp_path: Path
) -> None:
    """`mloop monitor run` then `mloop controller --once`: the report predates the controller."""
    before_start = ReportSummary("early", "lending", "3", T0 - timedelta(minutes=5), 0.6)
    reports = ListedReports([before_start])
    rule = DriftTrigger("lending")
    trained = T0 - timedelta(hours=2)
    fired = fire_and_record(rule, ctx(state, tmp_path, T0, reports, last_run_started=trained))
    assert fired is not None and fired.payload["report_id"] == "early"
    assert rule.check(ctx(state, tmp_path, T0, reports)) is None  # acted on once


def test_report_rules_skip_reports_a_later_run_already_saw(state, tmp_path: Path) -> None:
    reports = ListedReports([report("old", -30, 0.9, roc_auc=0.5)])
    retrained = T0 - timedelta(minutes=10)  # a run started after the report
    for rule in (DriftTrigger("lending"), DegradationTrigger("lending", "roc_auc", 0.8)):
        assert rule.check(ctx(state, tmp_path, T0, reports, last_run_started=retrained)) is None
        assert rule.check(ctx(state, tmp_path, T0, reports, last_run_started=None)) is not None
