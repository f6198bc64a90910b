"""Hold-out metrics: classification (ROC AUC, PR AUC, log loss, accuracy, F1, Brier score and
reliability bins for calibration) and regression (RMSE, MAE, R2). Pure numpy/scikit-learn on
arrays; non-finite predictions or metrics are refused with ``ValidationError``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mloop.errors import ValidationError

__all__ = [
    "HIGHER_IS_BETTER",
    "ReliabilityBin",
    "calibration_bins",
    "check_finite",
    "classification_metrics",
    "is_improvement",
    "regression_metrics",
]

HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "accuracy": True,
    "f1": True,
    "r2": True,
    "log_loss": False,
    "brier": False,
    "ece": False,
    "rmse": False,
    "mae": False,
}
"""Direction of every built-in metric; unknown metrics are treated as higher-is-better."""


def is_improvement(metric: str, delta: float) -> bool:
    """True when ``delta`` (candidate - baseline) is a gain for ``metric``."""
    return delta > 0 if HIGHER_IS_BETTER.get(metric, True) else delta < 0


def check_finite(values: Any, what: str) -> None:
    """Raise ``ValidationError`` naming ``what`` when ``values`` hold NaN or +/-inf."""
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise ValidationError(
            f"{what} hold {bad} NaN or infinite value(s) of {arr.size}; the model is not usable. "
            "Check the training data for missing values and the model's numerical settings"
        )


@dataclass(frozen=True)
class ReliabilityBin:
    """Predicted-probability bin [lower, upper): rows, mean prediction and observed rate."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_bins(labels: Any, probability: Any, bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width reliability bins of the positive-class probability (empty bins left out)."""
    import numpy as np

    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        if n:
            out.append(
                ReliabilityBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    n,
                    float(p[mask].mean()),
                    float(y[mask].mean()),
                )
            )
    return out


def classification_metrics(
    labels: Any, probability: Any, *, threshold: float = 0.5
) -> dict[str, float]:
    """Binary metrics from 0/1 ``labels`` and the positive-class ``probability``.

    Metrics that need both classes (ROC AUC, PR AUC) are NaN on a one-class sample; ``ece`` is
    the expected calibration error over 10 equal-width bins (a share, 0-1)."""
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    y = np.asarray(labels).astype(int)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValidationError(f"labels {y.shape} and probabilities {p.shape} must be 1-D, equal")
    if len(y) == 0:
        raise ValidationError("cannot compute metrics on zero rows")
    check_finite(p, "predicted probabilities")
    predicted = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0.0)),
        "brier": float(brier_score_loss(y, p)),
    }
    bins = calibration_bins(y, p)
    metrics["ece"] = float(
        sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in bins)
    ) / len(y)
    return metrics


def regression_metrics(target: Any, prediction: Any) -> dict[str, float]:
    """RMSE, MAE (units of the target) and R2 (NaN for a constant target)."""
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(target, dtype=np.float64)
    yhat = np.asarray(prediction, dtype=np.float64)
    if y.shape != yhat.shape or len(y) == 0:
        raise ValidationError(
            f"targets {y.shape} and predictions {yhat.shape} must match, non-empty"
        )
    check_finite(yhat, "predictions")
    return {
        "rmse": float(math.sqrt(mean_squared_error(y, yhat))),
        "mae": float(mean_absolute_error(y, yhat)),
        "r2": float(r2_score(y, yhat)) if len(y) > 1 and np.ptp(y) > 0 else math.nan,
    }
