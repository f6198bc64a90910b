from __future__ import annotations

import math
from datetime import timedelta

import pytest

from mloop.errors import ConfigError, ValidationError
from mloop.monitoring.rules import AlertRule, parse_rules
from mloop.monitoring.settings import MonitoringSettings
from mloop.monitoring.windows import parse_duration


def test_rule_fires_on_the_side_it_names() -> None:
    above = AlertRule("drift", "share_drifted", above=0.3)
    below = AlertRule("floor", "accuracy", below=0.8)
    assert above.judge(0.5).fired and not above.judge(0.3).fired
    assert below.judge(0.7).fired and not below.judge(0.9).fired
    assert above.judge(None).fired is None and below.judge(math.nan).fired is None
    assert "above 0.3" in above.describe(0.5)


def test_rules_are_validated() -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        AlertRule("x", "accuracy", above=1, below=0)
    with pytest.raises(ValidationError, match="unknown key"):
        AlertRule.from_dict({"metric": "accuracy", "below": 1, "floor": 2})
    with pytest.raises(ValidationError, match="severity"):
        AlertRule.from_dict({"metric": "accuracy", "below": 1, "severity": "meh"})
    with pytest.raises(ValidationError, match="unique"):
        parse_rules([{"metric": "accuracy", "below": 1}, {"metric": "accuracy", "below": 2}])
    assert parse_rules([{"metric": "error_rate", "above": 0.1}])[0].name == "error_rate"


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("1.5d") == timedelta(hours=36)
    assert parse_duration(30) == timedelta(seconds=30)
    for bad in ("1 hour", "-1h", "0s", ""):
        with pytest.raises(ValidationError):
            parse_duration(bad)


def test_settings_merge_per_model_overrides() -> None:
    doc = {
        "window": "2h",
        "rules": [{"metric": "share_drifted", "above": 0.3}],
        "rollback": {"probation": "30m", "rules": [{"metric": "error_rate", "above": 0.2}]},
        "models": {"credit": {"window": "15m"}},
    }
    assert MonitoringSettings.from_dict(doc).window == timedelta(hours=2)
    credit = MonitoringSettings.from_dict(doc, model="credit")
    assert credit.window == timedelta(minutes=15)
    assert credit.rollback is not None and credit.rollback.probation == timedelta(minutes=30)
    assert credit.rules[0].metric == "share_drifted"
    with pytest.raises(ConfigError, match="unknown key"):
        MonitoringSettings.from_dict({"windw": "1h"})
