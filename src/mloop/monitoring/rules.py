"""Alert rules: a named condition on one value of a monitoring report.

    rules:
      - {name: drift, metric: share_drifted, above: 0.3}
      - {name: accuracy-floor, metric: accuracy, below: 0.8, min_rows: 50}
      - {name: errors, metric: error_rate, above: 0.05, min_rows: 100}
      - {name: slow, metric: latency_p99_ms, above: 250, severity: critical}

A rule whose value is absent from a report (no labels yet, an empty window, fewer than
``min_rows`` rows behind the value) is *not evaluated*: it neither fires nor clears an alert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mloop.errors import ValidationError

__all__ = ["REPORT_VALUES", "AlertRule", "RuleVerdict", "parse_rules"]

REPORT_VALUES = (
    "share_drifted",
    "prediction_drift",
    "error_rate",
    "server_error_rate",
    "requests",
    "failed_requests",
    "latency_p50_ms",
    "latency_p99_ms",
    "num_rows",
)
"""Values every report may carry (``error_rate``: failed requests over all requests, 0-1;
``server_error_rate``: the 5xx ones); any live metric name (``accuracy``,
``misclassification_rate``, ``roc_auc``, ``rmse``...) is accepted too."""

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``metric`` is above ``above`` or below ``below`` (exactly one is set).

    ``min_rows``: rows a report needs for the rule to judge: labelled rows for live metrics,
    requests for ``error_rate`` and latency, logged rows otherwise."""

    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    severity: str = "warning"
    min_rows: int = 1

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValidationError("an alert rule needs a non-empty 'name'")
        if (self.above is None) == (self.below is None):
            raise ValidationError(
                f"alert rule {self.name!r}: give exactly one of 'above' and 'below'"
            )
        if self.severity not in SEVERITIES:
            raise ValidationError(
                f"alert rule {self.name!r}: severity {self.severity!r} is not one of {SEVERITIES}"
            )

    @property
    def threshold(self) -> float:
        return float(self.above if self.above is not None else self.below)  # type: ignore[arg-type]

    def judge(self, value: float | None) -> RuleVerdict:
        """The verdict on ``value`` (None or NaN: not evaluated)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return RuleVerdict(self, None, None)
        fired = value > self.threshold if self.above is not None else value < self.threshold
        return RuleVerdict(self, float(value), fired)

    def describe(self, value: float) -> str:
        side = "above" if self.above is not None else "below"
        return f"{self.metric} = {value:.4g} is {side} {self.threshold:.4g} (rule {self.name!r})"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertRule:
        known = {"name", "metric", "above", "below", "severity", "min_rows"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValidationError(
                f"alert rule {d.get('name')!r}: unknown key(s) {unknown}; use {sorted(known)}"
            )
        if "metric" not in d:
            raise ValidationError(f"alert rule {d.get('name')!r} needs a 'metric'")
        try:
            return cls(
                name=str(d.get("name") or d["metric"]),
                metric=str(d["metric"]),
                above=None if d.get("above") is None else float(d["above"]),
                below=None if d.get("below") is None else float(d["below"]),
                severity=str(d.get("severity", "warning")),
                min_rows=int(d.get("min_rows", 1)),
            )
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"alert rule {d.get('name')!r}: {exc}") from None


@dataclass(frozen=True)
class RuleVerdict:
    """``fired`` is True/False, or None when the report had no value to judge."""

    rule: AlertRule
    value: float | None
    fired: bool | None


def parse_rules(items: Sequence[AlertRule | Mapping[str, Any]] | None) -> list[AlertRule]:
    """Rules from objects or mappings (as written under ``monitoring.rules`` in mloop.yaml)."""
    rules = [r if isinstance(r, AlertRule) else AlertRule.from_dict(r) for r in items or ()]
    names = [r.name for r in rules]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(f"alert rule names must be unique; repeated: {duplicated}")
    return rules
