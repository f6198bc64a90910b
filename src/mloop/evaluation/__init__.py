"""Evaluation and model validation on frames and arrays (no stores, no HTTP): metrics, metrics
per slice, comparison with a baseline, the declarative blessing and the HTML report.

    ev = evaluate_predictions(y, proba, slices={"term": test["term"]}, model="candidate")
    verdict = bless(ev, ValidationSpec.from_dict({"floors": {"roc_auc": 0.65}}), baseline=base)
"""

from __future__ import annotations

from mloop.evaluation.blessing import Blessing, Check, ValidationSpec, bless
from mloop.evaluation.compare import Comparison, MetricDelta, compare
from mloop.evaluation.evaluation import Evaluation, evaluate_predictions
from mloop.evaluation.metrics import (
    HIGHER_IS_BETTER,
    calibration_bins,
    check_finite,
    classification_metrics,
    regression_metrics,
)
from mloop.evaluation.report import render_html

__all__ = [
    "HIGHER_IS_BETTER",
    "Blessing",
    "Check",
    "Comparison",
    "Evaluation",
    "MetricDelta",
    "ValidationSpec",
    "bless",
    "calibration_bins",
    "check_finite",
    "classification_metrics",
    "compare",
    "evaluate_predictions",
    "regression_metrics",
    "render_html",
]
