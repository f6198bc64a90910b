"""``MonitoringReport``: what one monitoring job found in one window of the prediction log."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mloop.data import DriftReport
from mloop.metadata.monitoring_records import AlertRecord, MonitoringRecord

__all__ = ["MonitoringReport"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass
class MonitoringReport:
    """One window ``[window_start, window_end)`` of ``model``'s prediction log.

    ``drift`` compares the inputs with the training reference (``reference_source`` says which);
    ``prediction_drift`` the outputs (``prediction_drift_score`` is the largest per-output drift
    score); ``metrics`` are live metrics over ``labelled_rows`` rows that received feedback
    (``misclassification_rate`` is the share, 0-1, of wrong predictions of a classifier);
    ``requests`` counts every inference request of the window (``num_requests`` answered ones
    plus ``failed_requests`` from the error log, ``server_failed_requests`` of them 5xx), so
    ``error_rate`` is the share (0-1) of requests that failed; ``latency_ms`` holds p50/p99 per
    answered request in milliseconds; ``by_version`` the same per served version (used by
    rollback). Every figure above counts only live traffic (champion and canary rows); a
    shadow's rows, copies of requests it never answered, are in ``shadow`` (per version: rows,
    requests, labelled rows, the metrics it would have had, latency)."""

    id: str
    model: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    num_rows: int = 0
    num_requests: int = 0
    requests: int = 0
    failed_requests: int = 0
    server_failed_requests: int = 0
    version: str | None = None
    versions: dict[str, int] = field(default_factory=dict)
    drift: DriftReport | None = None
    prediction_drift: DriftReport | None = None
    reference_source: str = "none"
    reference_artifact_id: str | None = None
    labelled_rows: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    by_version: dict[str, dict[str, Any]] = field(default_factory=dict)
    shadow: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_id: str | None = None
    artifact_id: str | None = None
    alerts: list[AlertRecord] = field(default_factory=list)
    rollback: dict[str, Any] | None = None

    # -- the values alert rules read ---------------------------------------------------------
    @property
    def share_drifted(self) -> float | None:
        return None if self.drift is None or not self.drift.judged else self.drift.share_drifted

    @property
    def dataset_drifted(self) -> bool:
        return bool(self.drift is not None and self.drift.dataset_drifted)

    @property
    def error_rate(self) -> float | None:
        """Failed requests over all requests (0-1), None without requests."""
        return self.failed_requests / self.requests if self.requests else None

    @property
    def server_error_rate(self) -> float | None:
        """Requests answered with a 5xx over all requests (0-1), None without requests."""
        return self.server_failed_requests / self.requests if self.requests else None

    @property
    def prediction_drift_score(self) -> float | None:
        if self.prediction_drift is None or not self.prediction_drift.judged:
            return None
        return max(f.score for f in self.prediction_drift.judged)

    def value(self, metric: str) -> tuple[float | None, int]:
        """A value rules can judge and the rows behind it; (None, 0) when the report has none."""
        if metric == "share_drifted":
            return self.share_drifted, self.num_rows
        if metric == "prediction_drift":
            return self.prediction_drift_score, self.num_rows
        if metric in ("latency_p50_ms", "latency_p99_ms"):
            return self.latency_ms.get(metric[8:11]), self.num_requests
        if metric == "num_rows":
            return float(self.num_rows), self.num_rows
        if metric in ("error_rate", "server_error_rate"):
            return getattr(self, metric), self.requests
        if metric in ("requests", "failed_requests"):
            return float(getattr(self, metric)), self.requests
        if metric in self.metrics:
            return self.metrics[metric], self.labelled_rows
        return None, 0

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "id": self.id,
                "model": self.model,
                "version": self.version,
                "versions": self.versions,
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "created_at": self.created_at.isoformat(),
                "num_rows": self.num_rows,
                "num_requests": self.num_requests,
                "requests": self.requests,
                "failed_requests": self.failed_requests,
                "server_failed_requests": self.server_failed_requests,
                "error_rate": self.error_rate,
                "server_error_rate": self.server_error_rate,
                "share_drifted": self.share_drifted,
                "dataset_drifted": self.dataset_drifted,
                "drifted_features": [] if self.drift is None else self.drift.drifted_features,
                "prediction_drift_score": self.prediction_drift_score,
                "prediction_drifted": bool(
                    self.prediction_drift is not None and self.prediction_drift.drifted_features
                ),
                "reference_source": self.reference_source,
                "reference_artifact_id": self.reference_artifact_id,
                "labelled_rows": self.labelled_rows,
                "metrics": self.metrics,
                "latency_ms": self.latency_ms,
                "by_version": self.by_version,
                "shadow": self.shadow,
                "notes": self.notes,
                "run_id": self.run_id,
                "artifact_id": self.artifact_id,
                "alerts": [
                    {"id": a.id, "rule": a.rule, "state": a.state, "message": a.message}
                    for a in self.alerts
                ],
                "rollback": self.rollback,
                "drift": None if self.drift is None else self.drift.to_dict(),
                "prediction_drift": (
                    None if self.prediction_drift is None else self.prediction_drift.to_dict()
                ),
            }
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> dict[str, Any]:
        """The compact part kept in the ``monitoring_reports`` row (no per-feature detail)."""
        full = self.to_dict()
        for key in ("drift", "prediction_drift", "alerts"):
            full.pop(key)
        return full

    def record(self) -> MonitoringRecord:
        """The report as a metadata-store row."""
        return MonitoringRecord(
            id=self.id,
            model=self.model,
            version=self.version,
            window_start=self.window_start,
            window_end=self.window_end,
            created_at=self.created_at,
            num_rows=self.num_rows,
            share_drifted=self.share_drifted,
            dataset_drifted=self.dataset_drifted,
            prediction_drift=self.prediction_drift_score,
            summary=self.summary(),
            run_id=self.run_id,
            artifact_id=self.artifact_id,
        )
