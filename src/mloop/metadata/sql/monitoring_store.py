"""``SqlMonitoringStore``: monitoring reports and deduplicated alerts in SQL.

Deduplication rests on the unique ``open_key`` column (``model`` + ``rule`` while the alert is
open, NULL once resolved; NULLs never collide), so two monitoring jobs racing on one incident
end with one open alert on SQLite and PostgreSQL alike: the loser of the insert refreshes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop._utils.ids import new_id
from mloop.errors import NotFoundError
from mloop.metadata.monitoring_records import AlertRecord, MonitoringRecord, MonitoringStore
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import alerts, monitoring_reports

__all__ = ["SqlMonitoringStore"]


def _open_key(model: str, rule: str) -> str:
    return f"{model}\x1f{rule}"


def _report(row: Mapping[Any, Any]) -> MonitoringRecord:
    return MonitoringRecord(
        id=row["id"],
        model=row["model"],
        version=row["version"],
        window_start=as_utc(row["window_start"]),
        window_end=as_utc(row["window_end"]),
        created_at=as_utc(row["created_at"]),
        num_rows=int(row["num_rows"]),
        share_drifted=row["share_drifted"],
        dataset_drifted=bool(row["dataset_drifted"]),
        prediction_drift=row["prediction_drift"],
        summary=dict(row["summary"] or {}),
        run_id=row["run_id"],
        artifact_id=row["artifact_id"],
    )


def _alert(row: Mapping[Any, Any]) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        model=row["model"],
        rule=row["rule"],
        state=row["state"],
        severity=row["severity"],
        message=row["message"],
        value=row["value"],
        threshold=row["threshold"],
        report_id=row["report_id"],
        payload=dict(row["payload"] or {}),
        occurrences=int(row["occurrences"]),
        opened_at=as_utc(row["opened_at"]),
        last_seen_at=as_utc(row["last_seen_at"]),
        resolved_at=None if row["resolved_at"] is None else as_utc(row["resolved_at"]),
    )


class SqlMonitoringStore(MonitoringStore):
    """Monitoring rows on the metadata store's engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add_report(self, record: MonitoringRecord) -> MonitoringRecord:
        values = {
            "id": record.id,
            "model": record.model,
            "version": record.version,
            "window_start": record.window_start,
            "window_end": record.window_end,
            "created_at": record.created_at,
            "num_rows": record.num_rows,
            "share_drifted": record.share_drifted,
            "dataset_drifted": record.dataset_drifted,
            "prediction_drift": record.prediction_drift,
            "summary": record.summary,
            "run_id": record.run_id,
            "artifact_id": record.artifact_id,
        }
        with write_transaction(self._engine) as conn:
            conn.execute(monitoring_reports.insert().values(values))
        return record

    def get_report(self, report_id: str) -> MonitoringRecord:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(monitoring_reports).where(monitoring_reports.c.id == report_id)
            ).first()
        if row is None:
            raise NotFoundError(
                f"monitoring report {report_id!r} not found; 'mloop monitor reports' lists them"
            )
        return _report(row._mapping)

    def list_reports(
        self, model: str | None = None, *, since: datetime | None = None, limit: int = 100
    ) -> list[MonitoringRecord]:
        query = sa.select(monitoring_reports).order_by(
            monitoring_reports.c.window_end.desc(), monitoring_reports.c.created_at.desc()
        )
        if model is not None:
            query = query.where(monitoring_reports.c.model == model)
        if since is not None:
            query = query.where(monitoring_reports.c.window_end >= since)
        with read_transaction(self._engine) as conn:
            return [_report(r._mapping) for r in conn.execute(query.limit(limit))]

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
        now = at or utc_now()
        key = _open_key(model, rule)
        refresh = {
            "last_seen_at": now,
            "value": value,
            "message": message,
            "report_id": report_id,
            "occurrences": alerts.c.occurrences + 1,
        }
        for attempt in range(3):
            try:
                return self._raise_once(
                    key,
                    model,
                    rule,
                    refresh,
                    now,
                    severity,
                    message,
                    value,
                    threshold,
                    report_id,
                    payload,
                )
            except sa.exc.IntegrityError:  # another job opened it first: refresh that one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _raise_once(
        self,
        key: str,
        model: str,
        rule: str,
        refresh: dict[str, Any],
        now: datetime,
        severity: str,
        message: str,
        value: float | None,
        threshold: float | None,
        report_id: str | None,
        payload: Mapping[str, Any] | None,
    ) -> tuple[AlertRecord, bool]:
        with write_transaction(self._engine) as conn:
            updated = conn.execute(alerts.update().where(alerts.c.open_key == key).values(refresh))
            created = updated.rowcount == 0
            if created:
                conn.execute(
                    alerts.insert().values(
                        id=new_id(),
                        model=model,
                        rule=rule,
                        state="open",
                        open_key=key,
                        severity=severity,
                        message=message,
                        value=value,
                        threshold=threshold,
                        report_id=report_id,
                        payload=dict(payload or {}),
                        occurrences=1,
                        opened_at=now,
                        last_seen_at=now,
                        resolved_at=None,
                    )
                )
            row = conn.execute(sa.select(alerts).where(alerts.c.open_key == key)).one()
        return _alert(row._mapping), created

    def resolve_alert(
        self, model: str, rule: str, *, at: datetime | None = None
    ) -> AlertRecord | None:
        key = _open_key(model, rule)
        with write_transaction(self._engine) as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.open_key == key)).first()
            if row is None:
                return None
            conn.execute(
                alerts.update()
                .where(alerts.c.id == row.id)
                .values(state="resolved", open_key=None, resolved_at=at or utc_now())
            )
            row = conn.execute(sa.select(alerts).where(alerts.c.id == row.id)).one()
        return _alert(row._mapping)

    def list_alerts(
        self, model: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        query = sa.select(alerts).order_by(alerts.c.opened_at.desc())
        if model is not None:
            query = query.where(alerts.c.model == model)
        if state is not None:
            query = query.where(alerts.c.state == state)
        with read_transaction(self._engine) as conn:
            return [_alert(r._mapping) for r in conn.execute(query.limit(limit))]
