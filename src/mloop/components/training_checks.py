"""Checks that fail a training step with a clear message: the fit did not converge (a solver's
ConvergenceWarning, or a loss/score curve that does not improve over its iterations) or the model
predicts NaN or infinite values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mloop.errors import TrainingCheckError

__all__ = ["check_curve", "check_learning_curves", "check_predictions_finite"]

MIN_RELATIVE_GAIN = 1e-6
"""A curve must improve on its first value by at least this share of it (or 1e-12 absolute)."""


def check_curve(values: Sequence[float], name: str, *, lower_is_better: bool) -> None:
    """Raise ``TrainingCheckError`` when the curve holds a non-finite value or its best value
    is no better than its first: the model did not learn over its iterations."""
    curve = [float(v) for v in values]
    if len(curve) < 2:
        return
    bad = [i for i, v in enumerate(curve) if not math.isfinite(v)]
    if bad:
        raise TrainingCheckError(
            f"training curve {name!r} became NaN or infinite at iteration {bad[0]}: the fit "
            "diverged. Lower the learning rate, scale the features or check for extreme values"
        )
    first = curve[0]
    best = min(curve) if lower_is_better else max(curve)
    gain = (first - best) if lower_is_better else (best - first)
    if gain <= max(abs(first) * MIN_RELATIVE_GAIN, 1e-12):
        raise TrainingCheckError(
            f"training did not converge: {name!r} did not improve over {len(curve)} iterations "
            f"(first {first:.6g}, best {best:.6g}). Check the labels vary, raise the learning "
            "rate or the number of iterations, or use another model"
        )


def final_estimator(model: Any) -> Any:
    """The last step of a scikit-learn Pipeline, or the model itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def check_learning_curves(model: Any) -> list[str]:
    """Check every learning curve the fitted estimator exposes; returns the curves checked."""
    est = final_estimator(model)
    checked = []
    loss = getattr(est, "loss_curve_", None)  # MLP: loss, lower is better
    if loss is not None:
        check_curve(loss, "loss_curve_", lower_is_better=True)
        checked.append("loss_curve_")
    evals = getattr(est, "evals_result_", None)  # LightGBM / XGBoost with an eval_set
    if isinstance(evals, dict):
        for dataset, by_metric in evals.items():
            for metric, curve in dict(by_metric).items():
                higher = any(k in metric for k in ("auc", "ndcg", "map"))
                check_curve(curve, f"{dataset}:{metric}", lower_is_better=not higher)
                checked.append(f"{dataset}:{metric}")
    module = type(est).__module__
    train_score = getattr(est, "train_score_", None)
    if train_score is not None and len(train_score) > 1 and module.startswith("sklearn"):
        # HistGradientBoosting: scores (higher is better); GradientBoosting: in-bag loss.
        higher = type(est).__name__.startswith("HistGradientBoosting")
        check_curve(train_score, "train_score_", lower_is_better=not higher)
        checked.append("train_score_")
    return checked


def check_predictions_finite(model: Any, frame: Any, *, what: str = "training rows") -> None:
    """Raise ``TrainingCheckError`` when the model predicts NaN or inf on ``frame``."""
    import numpy as np

    outputs = [("predict", model.predict(frame))]
    if hasattr(model, "predict_proba"):
        outputs.append(("predict_proba", model.predict_proba(frame)))
    for method, values in outputs:
        arr = np.asarray(values)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad = int((~np.isfinite(arr)).sum())
            raise TrainingCheckError(
                f"the trained model's {method} gives {bad} NaN or infinite value(s) on the "
                f"{what}; check the data for missing or extreme values and the model's settings"
            )
