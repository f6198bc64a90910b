"""Raising, deduplicating and resolving alerts from a report, and notifying about them.

Each rule is judged on the report: a firing rule opens an alert for (model, rule) or refreshes
the one already open (no second notification while the condition lasts); a rule that judges
the report healthy resolves the open alert (notified as ``resolved``); a rule without a value
to judge leaves things as they are. New and resolved alerts are logged and POSTed to the
webhook as ``{"event": "alert.opened" | "alert.resolved", "alert": {...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mloop.metadata.monitoring_records import AlertRecord, MonitoringStore
from mloop.monitoring.report import MonitoringReport
from mloop.monitoring.rules import AlertRule
from mloop.monitoring.webhook import post_json

__all__ = ["AlertOutcome", "alert_payload", "evaluate_alerts", "raise_alert"]

log = logging.getLogger("mloop.monitoring")
Notifier = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class AlertOutcome:
    """What a rule did: ``action`` is ``opened``, ``refreshed``, ``resolved`` or ``none``."""

    rule: str
    action: str
    value: float | None
    alert: AlertRecord | None = None


def alert_payload(event: str, alert: AlertRecord) -> dict[str, Any]:
    """The JSON body posted to webhooks (times as ISO 8601 strings)."""
    body = asdict(alert)
    for key, value in body.items():
        if isinstance(value, datetime):
            body[key] = value.isoformat()
    return {"event": event, "alert": body}


def _notify(event: str, alert: AlertRecord, webhook: str | None, notify: Notifier | None) -> None:
    level = logging.INFO if event == "alert.resolved" else logging.WARNING
    log.log(level, "%s [%s] %s: %s", event, alert.severity, alert.model, alert.message)
    payload = alert_payload(event, alert)
    if webhook:
        post_json(webhook, payload)
    if notify is not None:
        notify(payload)


def raise_alert(
    store: MonitoringStore,
    model: str,
    rule: str,
    *,
    message: str,
    severity: str = "warning",
    value: float | None = None,
    threshold: float | None = None,
    report_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    webhook: str | None = None,
    notify: Notifier | None = None,
) -> tuple[AlertRecord, bool]:
    """Open (or refresh) one alert and notify when it is new; returns (alert, created)."""
    alert, created = store.raise_alert(
        model,
        rule,
        severity=severity,
        message=message,
        value=value,
        threshold=threshold,
        report_id=report_id,
        payload=payload,
    )
    if created:
        _notify("alert.opened", alert, webhook, notify)
    return alert, created


def evaluate_alerts(
    report: MonitoringReport,
    rules: Sequence[AlertRule],
    store: MonitoringStore,
    *,
    webhook: str | None = None,
    notify: Notifier | None = None,
) -> list[AlertOutcome]:
    """Judge every rule on ``report``; open, refresh or resolve alerts accordingly."""
    outcomes = []
    for rule in rules:
        value, rows = report.value(rule.metric)
        verdict = rule.judge(value if rows >= rule.min_rows else None)
        if verdict.fired is None:
            outcomes.append(AlertOutcome(rule.name, "none", None))
        elif verdict.fired:
            assert verdict.value is not None
            alert, created = raise_alert(
                store,
                report.model,
                rule.name,
                severity=rule.severity,
                message=rule.describe(verdict.value),
                value=verdict.value,
                threshold=rule.threshold,
                report_id=report.id,
                payload={"metric": rule.metric, "version": report.version, "rows": rows},
                webhook=webhook,
                notify=notify,
            )
            outcomes.append(
                AlertOutcome(rule.name, "opened" if created else "refreshed", verdict.value, alert)
            )
        else:
            resolved = store.resolve_alert(report.model, rule.name)
            if resolved is not None:
                _notify("alert.resolved", resolved, webhook, notify)
            outcomes.append(
                AlertOutcome(rule.name, "resolved" if resolved else "none", verdict.value, resolved)
            )
    return outcomes
