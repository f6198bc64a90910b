"""The monitoring report computed group by group over the log's files (the Ray job's code, in
this process) against the one-frame job, on a log with nulls, a shadow, retried request ids,
partial labels and a file with no row in the window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mloop.monitoring.jobs import compute_report
from mloop.monitoring.partitioned import compute_partitioned_report, group_files
from mloop.monitoring.rules import AlertRule
from mloop.monitoring.windows import LogWindow, window_files

pytestmark = pytest.mark.slow  # real models and logs

# 14:40 UTC given in another zone: the window is [13:40, 14:40) UTC
NOW = datetime(2026, 11, 20, 15, 40, tzinfo=timezone(timedelta(hours=1)))
RULES = [
    AlertRule("drift", "share_drifted", above=0.3),
    AlertRule("accuracy", "accuracy", below=0.99, min_rows=10),
    AlertRule("errors", "error_rate", above=0.01),
    AlertRule("slow", "latency_p99_ms", above=8.0),
    AlertRule("auc", "roc_auc", below=0.5, min_rows=10_000),  # too few rows: not evaluated
]
VOLATILE = ("id", "created_at", "run_id", "artifact_id", "alerts")


def comparable(report: Any) -> dict[str, Any]:
    """The report's figures (not the ids a run gives it)."""
    return {k: v for k, v in report.to_dict().items() if k not in VOLATILE}


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two reports differ (exact comparison; a readable list instead of one big diff).
    On this small log the sketches keep every value, so merged statistics are exact too."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b and type(a) is type(b) else [f"{where}: {a!r} != {b!r}"]


def verdicts(report: Any) -> list[tuple[str, bool | None]]:
    out = []
    for rule in RULES:
        value, rows = report.value(rule.metric)
        out.append((rule.name, rule.judge(value if rows >= rule.min_rows else None).fired))
    return out


@pytest.fixture
def logged(project, monitoring_kit):
    versions = monitoring_kit.partitioned_log(project, NOW.astimezone(timezone.utc))
    return project, versions


def _stores(project):
    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings

    return project.store(), connect_artifacts(load_settings().artifact_root)


def test_partitioned_report_equals_the_one_frame_report(logged) -> None:
    project, versions = logged
    store, artifacts = _stores(project)
    window = LogWindow.ending("credit", timedelta(hours=1), NOW)
    files = window_files(project.log_dir, "predictions", window)
    assert len(group_files(files, 1)) == len(files) >= 6
    local = compute_report(store, artifacts, project.log_dir, window)
    parts = compute_partitioned_report(store, artifacts, project.log_dir, window, group_bytes=1)
    assert differences(comparable(parts), comparable(local)) == []
    assert verdicts(parts) == verdicts(local)
    # the scenario is what it claims to be
    champion, canary, shadow = (str(versions[k]) for k in ("champion", "canary", "shadow"))
    assert local.num_rows == 468 and local.versions == {champion: 408, canary: 60}
    assert local.num_requests == 50 + 40 + 60 + 2  # the 10 retried ids count once
    assert local.failed_requests == 8 and local.requests == 160
    # some rows have no probabilities: the outputs are the predictions alone
    assert [f.name for f in local.prediction_drift.judged] == ["prediction"]
    assert 0 < local.labelled_rows < local.num_rows and local.metrics["roc_auc"] > 0.5
    assert local.shadow[shadow]["rows"] == 200 and local.latency_ms["p99"] == 9.0
    assert local.drift is not None and local.drift.features
    assert [v for v in verdicts(local) if v[1] is not None] and ("auc", None) in verdicts(local)
    # one group or many: the same report
    whole = compute_partitioned_report(store, artifacts, project.log_dir, window)
    assert differences(comparable(whole), comparable(local)) == []


def test_partitioned_report_of_an_empty_or_failed_only_window(logged) -> None:
    project, _ = logged
    store, artifacts = _stores(project)
    for end in (NOW - timedelta(hours=5), NOW - timedelta(minutes=5)):  # nothing; failures
        window = LogWindow.ending("credit", timedelta(minutes=5), end)
        local = compute_report(store, artifacts, project.log_dir, window)
        parts = compute_partitioned_report(store, artifacts, project.log_dir, window, group_bytes=1)
        assert differences(comparable(parts), comparable(local)) == []
    assert local.num_rows == 0 and local.failed_requests == 8 and local.by_version


def test_ray_stays_optional(logged, monkeypatch) -> None:
    """Without Ray (an import of it fails) the local and partitioned jobs run, and asking for
    Ray says how to install it."""
    import sys

    from mloop.errors import ConfigError
    from mloop.monitoring import run_monitoring

    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` raises ImportError
    project, _ = logged
    store, artifacts = _stores(project)
    window = LogWindow.ending("credit", timedelta(hours=1), NOW)
    assert compute_partitioned_report(store, artifacts, project.log_dir, window).num_rows == 468
    assert run_monitoring("credit", window="1h", now=NOW, record=False).num_rows == 468
    with pytest.raises(ConfigError, match=r"mloop\[ray\]"):
        run_monitoring("credit", window="1h", now=NOW, record=False, runner="ray")
