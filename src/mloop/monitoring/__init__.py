"""mloop.monitoring: watch models in production from their prediction log.

    from mloop.monitoring import run_monitoring
    report = run_monitoring("lending", window="1h")
    report.share_drifted, report.metrics["accuracy"], report.alerts

A job reads one window of the serving log, compares it with the training reference found by
lineage (``mloop.data`` statistics and drift), joins feedback labels for live metrics
(``mloop.evaluation``), records a report (``store.monitoring()``), raises deduplicated alerts and
rolls back a version that misbehaves on probation; ``runner="ray"`` computes the same report
over a log too large for one machine, one Ray task per group of log files. Readers (the
controller, the UI) use ``list_reports`` / ``list_alerts`` or the same methods of
``store.monitoring()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mloop.metadata.monitoring_records import AlertRecord, MonitoringRecord

__all__ = [
    "AlertOutcome",
    "AlertRecord",
    "AlertRule",
    "LogWindow",
    "MonitoringRecord",
    "MonitoringReport",
    "MonitoringSettings",
    "RollbackPolicy",
    "check_rollback",
    "compute_partitioned_report",
    "compute_report",
    "evaluate_alerts",
    "list_alerts",
    "list_reports",
    "load_monitoring_settings",
    "parse_duration",
    "post_json",
    "render_html",
    "run_monitoring",
]

_HOMES = {
    "AlertOutcome": "mloop.monitoring.alerts",
    "evaluate_alerts": "mloop.monitoring.alerts",
    "AlertRecord": "mloop.metadata.monitoring_records",
    "MonitoringRecord": "mloop.metadata.monitoring_records",
    "AlertRule": "mloop.monitoring.rules",
    "LogWindow": "mloop.monitoring.windows",
    "parse_duration": "mloop.monitoring.windows",
    "MonitoringReport": "mloop.monitoring.report",
    "MonitoringSettings": "mloop.monitoring.settings",
    "load_monitoring_settings": "mloop.monitoring.settings",
    "RollbackPolicy": "mloop.monitoring.rollback",
    "check_rollback": "mloop.monitoring.rollback",
    "compute_report": "mloop.monitoring.jobs",
    "compute_partitioned_report": "mloop.monitoring.partitioned",
    "run_monitoring": "mloop.monitoring.jobs",
    "post_json": "mloop.monitoring.webhook",
    "render_html": "mloop.monitoring.html_report",
}


def __getattr__(name: str) -> Any:
    """Import lazily: ``import mloop.monitoring`` must not pull Polars and scikit-learn."""
    import importlib

    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mloop.monitoring' has no attribute {name!r}")


def list_reports(
    model: str | None = None, *, limit: int = 100, settings: Any = None
) -> list[MonitoringRecord]:
    """Monitoring report rows of the project's store, newest window first."""
    return _store(settings).monitoring().list_reports(model, limit=limit)


def list_alerts(
    model: str | None = None, *, state: str | None = None, limit: int = 100, settings: Any = None
) -> list[AlertRecord]:
    """Alerts of the project's store, newest first (``state``: ``open`` or ``resolved``)."""
    return _store(settings).monitoring().list_alerts(model, state=state, limit=limit)


def _store(settings: Any) -> Any:
    from mloop.config import load_settings
    from mloop.metadata import connect

    return connect((settings or load_settings()).metadata_url)
