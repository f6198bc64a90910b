"""Automatic rollback: a newly promoted version that misbehaves on probation is demoted.

When the alias (``production`` by default) moved to version N less than ``probation`` ago
(read from the registry's alias history) and the live requests served by N break one of the
policy's rules (the error rate of N's own requests, a metric floor, latency), the alias moves
back to the version it pointed at before, as ``mloop.registry.rollback`` does (the history is
replayed as a stack), the move is recorded with kind ``rollback`` and the reason, and a critical
alert is raised. After probation, the same breach only raises the ordinary alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mloop._utils.clock import as_utc, utc_now
from mloop.errors import ModelNotFoundError
from mloop.metadata.base import MetadataStore
from mloop.metadata.model_registry import AliasChange
from mloop.monitoring.alerts import Notifier, raise_alert
from mloop.monitoring.report import MonitoringReport
from mloop.monitoring.rules import AlertRule, parse_rules
from mloop.monitoring.windows import parse_duration

__all__ = ["ROLLBACK_ACTOR", "RollbackPolicy", "check_rollback", "previous_version"]

log = logging.getLogger("mloop.monitoring")
ROLLBACK_ACTOR = "mloop.monitoring"


@dataclass(frozen=True)
class RollbackPolicy:
    """Roll ``alias`` back when a rule breaks within ``probation`` of its last move."""

    rules: tuple[AlertRule, ...]
    alias: str = "production"
    probation: timedelta = field(default_factory=lambda: timedelta(hours=1))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RollbackPolicy:
        return cls(
            rules=tuple(parse_rules(d.get("rules") or ())),
            alias=str(d.get("alias", "production")),
            probation=parse_duration(d.get("probation", "1h")),
        )


def previous_version(history: Sequence[AliasChange]) -> int | None:
    """The version a rollback returns to: the history replayed as a stack (a move pushes, a
    rollback pops), so successive rollbacks walk back through the promotions."""
    stack: list[int | None] = []
    for change in history:
        if change.kind == "rollback" and stack:
            stack.pop()
        else:
            stack.append(change.to_version)
    return stack[-2] if len(stack) >= 2 else None


_REQUEST_METRICS = ("error_rate", "server_error_rate", "latency_p50_ms", "latency_p99_ms")


def _version_value(report: MonitoringReport, version: str, metric: str) -> tuple[Any, int]:
    part = report.by_version.get(version) or {}
    if metric in ("error_rate", "server_error_rate"):  # the version's own failed requests
        return part.get(metric), int(part.get("requests", 0))
    if metric in ("latency_p50_ms", "latency_p99_ms"):
        answered = int(part.get("answered_requests", 0))
        return (part.get("latency_ms") or {}).get(metric[8:11]), answered
    metrics = part.get("metrics") or {}
    return metrics.get(metric), int(part.get("labelled_rows", 0))


def check_rollback(
    store: MetadataStore,
    report: MonitoringReport,
    policy: RollbackPolicy,
    *,
    now: datetime | None = None,
    webhook: str | None = None,
    notify: Notifier | None = None,
) -> dict[str, Any] | None:
    """Roll back if the alias's current version is on probation and breaks a rule.

    Returns what was done (``{"from_version", "to_version", "rule", "reason", ...}``) or None."""
    rows = store.model_registry()
    try:
        current = rows.get_alias(report.model, policy.alias)
        history = rows.alias_history(report.model, policy.alias)
    except ModelNotFoundError:
        return None
    if current is None or not history:
        return None
    moved = history[-1]
    at = as_utc(now or report.window_end or utc_now())
    if moved.kind != "set" or moved.to_version != current:
        return None  # only a promotion is on probation, not a version restored by a rollback
    if at - as_utc(moved.at) > policy.probation:
        return None
    for rule in policy.rules:
        value, n = _version_value(report, str(current), rule.metric)
        verdict = rule.judge(value if n >= rule.min_rows else None)
        if not verdict.fired:
            continue
        target = previous_version(history)
        if target is None:
            log.warning(
                "%s@%s breaks %s but has no earlier version", report.model, policy.alias, rule.name
            )
            return None
        assert verdict.value is not None
        reason = (
            f"automatic rollback: version {current} {rule.describe(verdict.value)} on {n} "
            f"{'requests' if rule.metric in _REQUEST_METRICS else 'rows'} "
            f"within its {policy.probation} probation (report {report.id})"
        )
        change = rows.set_alias(
            report.model,
            policy.alias,
            target,
            actor=ROLLBACK_ACTOR,
            reason=reason,
            kind="rollback",
        )
        store.monitoring().resolve_alert(report.model, f"rollback:{policy.alias}")
        alert, _ = raise_alert(  # each rollback is its own alert: close the previous one
            store.monitoring(),
            report.model,
            f"rollback:{policy.alias}",
            severity="critical",
            message=reason,
            value=verdict.value,
            threshold=rule.threshold,
            report_id=report.id,
            payload={"from_version": current, "to_version": target, "rule": rule.name},
            webhook=webhook,
            notify=notify,
        )
        log.warning(
            "%s@%s rolled back from %s to %s: %s",
            report.model,
            policy.alias,
            current,
            target,
            reason,
        )
        return {
            "alias": policy.alias,
            "from_version": current,
            "to_version": target,
            "rule": rule.name,
            "value": verdict.value,
            "reason": reason,
            "alias_change_id": change.id,
            "alert_id": alert.id,
        }
    return None
