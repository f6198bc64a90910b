"""Curves that must fall or rise, and the overfit-a-small-sample check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mloop.cicd.ci.convergence import curve_direction, judge_curves, overfit_score, small_sample
from mloop.metadata.entities import Metric


def curve(key: str, values: list[float], execution: str = "e1") -> list[Metric]:
    return [Metric(key, v, step=i, execution_id=execution) for i, v in enumerate(values)]


def test_directions_follow_the_metric_name() -> None:
    assert curve_direction("train_loss") == "falls"
    assert curve_direction("val_roc_auc") == "rises"
    assert curve_direction("rows") is None


def test_a_falling_loss_passes_and_a_rising_one_fails() -> None:
    good, problems = judge_curves(curve("loss", [1.0, 0.6, 0.4]), "run")
    assert len(good) == 1 and problems == []
    good, problems = judge_curves(curve("loss", [0.4, 0.5, 0.9]) + curve("auc", [0.5, 0.7]), "r")
    assert problems == ["r: loss 0.4 -> 0.9 over steps 0..2, but it should fall"]
    assert len(good) == 1


def test_single_values_and_unnamed_curves_are_not_judged() -> None:
    metrics = [Metric("loss", 1.0), *curve("rows", [5, 3])]
    assert judge_curves(metrics, "run") == ([], [])


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "color": rng.choice(["red", "blue"], size=n),
            "y": np.where(x + rng.normal(scale=0.3, size=n) > 1.2, "bad", "good"),
        }
    )


def test_small_sample_keeps_the_rare_class() -> None:
    data = frame()
    sample = small_sample(data, "y", 40, classification=True)
    assert len(sample) == 40
    assert (sample["y"] == "bad").sum() >= 10  # balanced as far as the data allows


def test_a_learnable_problem_overfits_and_a_constant_model_does_not() -> None:
    params = {
        "label": "y",
        "positive": "bad",
        "estimator": "sklearn.linear_model:LogisticRegression",
    }
    metric, score, rows = overfit_score(frame(), params, 64)
    assert metric == "roc_auc" and score > 0.9 and rows == 64
    dummy = {**params, "estimator": "sklearn.dummy:DummyClassifier"}
    assert overfit_score(frame(), dummy, 64)[1] == 0.5


def test_regression_is_scored_with_r2() -> None:
    data = frame()
    data["y"] = data["x"] * 3.0 + 1.0
    params = {"label": "y", "estimator": "sklearn.linear_model:LinearRegression"}
    metric, score, _ = overfit_score(data, params, 32)
    assert metric == "r2" and score > 0.99
