"""Metrics against hand-computable cases, per-slice metrics, and refusal of NaN/inf."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mloop.errors import ValidationError
from mloop.evaluation import (
    calibration_bins,
    classification_metrics,
    evaluate_predictions,
    regression_metrics,
)
from mloop.evaluation.slicing import slice_keys


def test_classification_metrics_of_a_perfect_and_a_known_ranking():
    y = np.array([0, 0, 1, 1])
    perfect = classification_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["f1"] == 1.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    half = classification_metrics(y, np.array([0.1, 0.8, 0.2, 0.9]))
    assert half["roc_auc"] == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered
    assert half["accuracy"] == pytest.approx(0.5)
    assert half["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.2, 0.9])), rel=1e-9)


def test_one_class_slices_give_nan_auc_not_an_error():
    m = classification_metrics(np.array([1, 1]), np.array([0.3, 0.7]))
    assert math.isnan(m["roc_auc"]) and m["accuracy"] == 0.5


def test_calibration_bins_and_ece():
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.95])
    bins = calibration_bins(y, p, bins=10)
    assert [(b.count, b.observed_rate) for b in bins] == [(2, 0.5), (3, pytest.approx(2 / 3))]
    ece = classification_metrics(y, p)["ece"]
    assert ece == pytest.approx((2 * 0.45 + 3 * abs(0.95 - 2 / 3)) / 5)


def test_regression_metrics():
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert m["mae"] == pytest.approx(2 / 3) and m["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert m["r2"] == pytest.approx(1 - 4 / 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_are_refused(bad):
    with pytest.raises(ValidationError, match="NaN or infinite"):
        classification_metrics(np.array([0, 1]), np.array([0.5, bad]))
    with pytest.raises(ValidationError, match="NaN or infinite"):
        regression_metrics([1.0, 2.0], [1.0, bad])


def test_metrics_per_slice_equal_metrics_of_the_subset():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.5 + rng.random(400) * 0.5, 0, 1)
    region = rng.choice(["east", "west", "tiny"], 400, p=[0.5, 0.45, 0.05])
    ev = evaluate_predictions(y, p, slices={"region": region}, min_slice_rows=30)
    east = region == "east"
    assert ev.slices["region"]["east"]["count"] == int(east.sum())
    assert ev.slice_metric("region", "east", "roc_auc") == pytest.approx(
        classification_metrics(y[east], p[east])["roc_auc"]
    )
    assert ev.slices["region"]["tiny"]["metrics"] == {}  # under min_slice_rows: count only
    assert ev.metrics == classification_metrics(y, p)


def test_numeric_slices_are_quantile_bins_and_missing_values_a_slice():
    values = np.arange(1000.0)
    keys = slice_keys(values)
    assert len(set(keys)) == 5
    few = slice_keys(np.array([1.0, 2.0, np.nan]))
    assert list(few) == ["1.0", "2.0", "<missing>"]


def test_evaluation_round_trips_through_a_dict():
    from mloop.evaluation import Evaluation

    ev = evaluate_predictions(
        [0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], slices={"k": list("aabb")}, min_slice_rows=1
    )
    assert Evaluation.from_dict(ev.to_dict()) == ev
    with pytest.raises(ValidationError, match="rows"):
        evaluate_predictions([0, 1], [0.1, 0.9], slices={"k": ["a"]})
