"""Monitoring reports and alerts as rows: the contract of the store that keeps them.

A report row summarises one window of a model's prediction log (drift share, prediction drift,
live metrics; the full report is an artifact). An alert is open while its rule keeps firing for
a model and resolved when it clears: at most one open alert per (model, rule), so repeated
reports of one incident never page twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AlertRecord", "MonitoringRecord", "MonitoringStore"]


@dataclass(frozen=True)
class MonitoringRecord:
    """One monitoring report: window ``[window_start, window_end)`` of ``model``'s log.

    ``share_drifted`` is the share (0-1) of judged input features that drifted,
    ``prediction_drift`` the drift score of the output distribution; ``summary`` holds live
    metrics, latency and the rest as JSON."""

    id: str
    model: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    num_rows: int
    dataset_drifted: bool
    version: str | None = None
    share_drifted: float | None = None
    prediction_drift: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    artifact_id: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    """An alert of ``rule`` on ``model``: ``state`` is ``open`` or ``resolved``;
    ``occurrences`` counts the reports that fired it while it was open."""

    id: str
    model: str
    rule: str
    state: str
    severity: str
    message: str
    opened_at: datetime
    last_seen_at: datetime
    occurrences: int = 1
    value: float | None = None
    threshold: float | None = None
    report_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    resolved_at: datetime | None = None


class MonitoringStore(ABC):
    """Monitoring rows in the metadata store; every method is one transaction."""

    @abstractmethod
    def add_report(self, record: MonitoringRecord) -> MonitoringRecord: ...

    @abstractmethod
    def get_report(self, report_id: str) -> MonitoringRecord:
        """The report with this id (``NotFoundError`` if none)."""

    @abstractmethod
    def list_reports(
        self, model: str | None = None, *, since: datetime | None = None, limit: int = 100
    ) -> list[MonitoringRecord]:
        """Reports, newest window first; ``since`` keeps windows ending at or after it."""

    @abstractmethod
    def raise_alert(
        self,
        model: str,
        rule: str,
        *,
        severity: str,
        message: str,
        value: float | None = None,
        threshold: float | None = None,
        report_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> tuple[AlertRecord, bool]:
        """Open an alert, or refresh the one already open for (model, rule).

        Returns the alert and True when it is new (the caller notifies only then)."""

    @abstractmethod
    def resolve_alert(
        self, model: str, rule: str, *, at: datetime | None = None
    ) -> AlertRecord | None:
        """Resolve the open alert of (model, rule); None if there was none."""

    @abstractmethod
    def list_alerts(
        self, model: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts, newest first, optionally of one model and/or state (open, resolved)."""
