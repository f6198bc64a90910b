"""Where the drift and degradation rules read monitoring reports from.

``mloop.monitoring`` stores one ``MonitoringRecord`` per job window (``store.monitoring()``);
this adapter turns them into the ``ReportSummary`` the rules need, so the rules do not depend
on the report's full shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mloop._utils.clock import as_utc
from mloop.controller.triggers import ReportSummary
from mloop.metadata.base import MetadataStore
from mloop.metadata.monitoring_records import MonitoringRecord


class MonitoringReportSource:
    """Reports of ``mloop.monitoring`` kept in the metadata store, oldest first."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def reports_since(self, model: str, since: datetime | None) -> Sequence[ReportSummary]:
        # filtered on created_at here: the store's ``since`` is on the window's end, and a
        # report created now may cover a window that ended earlier
        records = self._store.monitoring().list_reports(model, limit=100)
        found = [summarize(r) for r in records]
        found = [r for r in found if since is None or r.created_at > since]
        return sorted(found, key=lambda r: r.created_at)


def summarize(record: MonitoringRecord) -> ReportSummary:
    """The rules' view of a stored monitoring report (live metrics from its summary)."""
    metrics = (record.summary or {}).get("metrics") or {}
    return ReportSummary(
        id=record.id,
        model=record.model,
        version=record.version,
        created_at=as_utc(record.created_at),
        drift_share=record.share_drifted,
        metrics={str(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
    )
