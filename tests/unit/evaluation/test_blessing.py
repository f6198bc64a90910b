"""Blessing: floors, tolerance against the baseline overall, and per slice: a candidate better
overall but much worse in one region is not blessed, and the reason names the slice."""

from __future__ import annotations

import numpy as np
import pytest

from mloop.errors import ValidationError
from mloop.evaluation import ValidationSpec, bless, compare, evaluate_predictions


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 2000
    y = rng.integers(0, 2, n)
    region = rng.choice(["north", "south"], n)
    noise = rng.random(n)
    return y, region, noise


def _scores(y, noise, signal):
    return np.clip(signal * y + (1 - signal) * noise, 0, 1)


SPEC = ValidationSpec.from_dict(
    {
        "floors": {"roc_auc": 0.6},
        "tolerance": {"roc_auc": 0.01},
        "slice_tolerance": {"roc_auc": 0.02},
    }
)


def test_better_everywhere_is_blessed(data):
    y, region, noise = data
    base = evaluate_predictions(y, _scores(y, noise, 0.2), slices={"region": region}, model="b")
    cand = evaluate_predictions(y, _scores(y, noise, 0.4), slices={"region": region}, model="c")
    verdict = bless(cand, SPEC, base)
    assert verdict.blessed and verdict.reasons == []
    kinds = sorted({c.kind for c in verdict.checks})
    assert kinds == ["baseline", "floor", "slice"]
    assert verdict.metrics["roc_auc"] == cand.metrics["roc_auc"]


def test_better_overall_but_worse_in_one_region_is_not_blessed(data):
    y, region, noise = data
    base = evaluate_predictions(y, _scores(y, noise, 0.3), slices={"region": region}, model="b")
    south = region == "south"
    mixed = np.where(south, _scores(y, noise, 0.1), _scores(y, noise, 0.9))
    cand = evaluate_predictions(y, mixed, slices={"region": region}, model="c")
    assert cand.metrics["roc_auc"] > base.metrics["roc_auc"]  # better overall...
    verdict = bless(cand, SPEC, base)
    assert not verdict.blessed
    (reason,) = verdict.reasons
    assert "region=south" in reason and "slice tolerance 0.02" in reason


def test_worse_overall_beyond_tolerance_and_floors(data):
    y, _, noise = data
    base = evaluate_predictions(y, _scores(y, noise, 0.4), model="b")
    cand = evaluate_predictions(y, _scores(y, noise, 0.01), model="c")
    verdict = bless(cand, SPEC, base)
    assert not verdict.blessed
    assert any("breaks the floor roc_auc >= 0.6" in r for r in verdict.reasons)
    assert any("worse than the baseline" in r for r in verdict.reasons)


def test_lower_is_better_floors_are_ceilings(data):
    y, _, noise = data
    cand = evaluate_predictions(y, _scores(y, noise, 0.5))
    ok = bless(cand, ValidationSpec.from_dict({"floors": {"log_loss": 5.0}}))
    bad = bless(cand, ValidationSpec.from_dict({"floors": {"log_loss": 0.001}}))
    assert ok.blessed and not bad.blessed and "log_loss <= 0.001" in bad.reasons[0]


def test_without_baseline_only_floors_apply_and_missing_metrics_fail(data):
    y, _, noise = data
    cand = evaluate_predictions(y, _scores(y, noise, 0.5))
    assert bless(cand, SPEC).blessed
    verdict = bless(cand, ValidationSpec.from_dict({"floors": {"rmse": 1.0}}))
    assert not verdict.blessed and "rmse = missing" in verdict.reasons[0]


def test_comparison_signs_gains_by_direction(data):
    y, _, noise = data
    a = evaluate_predictions(y, _scores(y, noise, 0.5), model="a")
    b = evaluate_predictions(y, _scores(y, noise, 0.2), model="b")
    deltas = {d.metric: d for d in compare(a, b).overall}
    assert deltas["roc_auc"].gain > 0 and deltas["log_loss"].gain > 0
    assert deltas["log_loss"].delta < 0


@pytest.mark.parametrize(
    "bad",
    [{"floor": {}}, {"floors": {"auc": "high"}}, {"tolerance": {"auc": -1}}, {"floors": [1]}],
)
def test_bad_specs_are_refused(bad):
    with pytest.raises(ValidationError):
        ValidationSpec.from_dict(bad)
