"""Live performance when the served classifier answers class labels (``"bad"``/``"good"``, issue
15 point 9) and feedback brings the same labels: accuracy compares them as text, and the
probability metrics (roc_auc, ...) take the class of probability column 1 as the positive one."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mloop.monitoring.performance import live_metrics


def labelled(labels: list[str]) -> pl.DataFrame:
    p_good = np.linspace(0.05, 0.95, len(labels))  # column 1 is "good" (classes bad, good)
    return pl.DataFrame(
        {
            "prediction": np.where(p_good > 0.5, "good", "bad"),
            "prediction_proba": [[1.0 - p, p] for p in p_good],
            "label": labels,
        }
    )


def test_class_label_feedback_gives_accuracy_and_probability_metrics() -> None:
    labels = ["bad"] * 4 + ["good"] + ["bad"] + ["good"] * 4  # two of ten wrong
    metrics = live_metrics(labelled(labels))
    assert metrics["accuracy"] == pytest.approx(0.8)
    truth = np.array([label == "good" for label in labels], dtype=int)
    scores = np.linspace(0.05, 0.95, 10)
    from sklearn.metrics import roc_auc_score

    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))


def test_labels_that_are_not_the_models_classes_give_no_probability_metrics() -> None:
    metrics = live_metrics(labelled(["bad", "good", "maybe"] * 3 + ["bad"]))
    assert "roc_auc" not in metrics and "accuracy" in metrics
