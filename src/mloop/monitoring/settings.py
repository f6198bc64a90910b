"""Monitoring configuration: the ``monitoring:`` section of mloop.yaml, or the same in Python.

monitoring:
  window: 1h
  log_dir: .mloop            # where the prediction service writes its log (default)
  webhook: https://hooks.example.com/mloop
  rules:
    - {name: drift, metric: share_drifted, above: 0.3}
    - {name: accuracy-floor, metric: accuracy, below: 0.8, min_rows: 50}
    - {name: errors, metric: error_rate, above: 0.05, min_rows: 100}   # failed requests
  rollback: {alias: production, probation: 1h, rules: [{metric: error_rate, above: 0.2}]}
  models:                    # per-model overrides of any key above
    lending: {window: 30m}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from mloop.errors import ConfigError, ProjectFileError
from mloop.monitoring.rollback import RollbackPolicy
from mloop.monitoring.rules import AlertRule, parse_rules
from mloop.monitoring.windows import parse_duration

__all__ = ["MonitoringSettings", "load_monitoring_settings"]

_KEYS = {"window", "log_dir", "webhook", "rules", "rollback", "models", "share_threshold"}


@dataclass(frozen=True)
class MonitoringSettings:
    """Resolved monitoring settings of one model."""

    window: timedelta = field(default_factory=lambda: timedelta(hours=1))
    log_dir: Path | None = None
    webhook: str | None = None
    rules: tuple[AlertRule, ...] = ()
    rollback: RollbackPolicy | None = None
    share_threshold: float = 0.5

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], *, model: str | None = None, base: Path | None = None
    ) -> MonitoringSettings:
        unknown = sorted(set(d) - _KEYS)
        if unknown:
            raise ConfigError(f"monitoring: unknown key(s) {unknown}; known keys: {sorted(_KEYS)}")
        merged = {k: v for k, v in d.items() if k != "models"}
        if model is not None:
            merged.update((d.get("models") or {}).get(model) or {})
        log_dir = merged.get("log_dir")
        if log_dir is not None and base is not None and not Path(log_dir).is_absolute():
            log_dir = base / log_dir
        return cls(
            window=parse_duration(merged.get("window", "1h")),
            log_dir=None if log_dir is None else Path(log_dir),
            webhook=merged.get("webhook"),
            rules=tuple(parse_rules(merged.get("rules"))),
            rollback=(
                RollbackPolicy.from_dict(merged["rollback"]) if merged.get("rollback") else None
            ),
            share_threshold=float(merged.get("share_threshold", 0.5)),
        )


def load_monitoring_settings(settings: Any, model: str | None = None) -> MonitoringSettings:
    """The ``monitoring:`` section of the project's mloop.yaml (defaults when absent)."""
    import yaml

    path = getattr(settings, "project_file", None)
    section: Mapping[str, Any] = {}
    if path is not None and Path(path).is_file():
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        section = doc.get("monitoring") or {}
        if not isinstance(section, Mapping):
            raise ProjectFileError("'monitoring' must be a mapping", path=str(path))
    return MonitoringSettings.from_dict(section, model=model, base=settings.project_dir)
