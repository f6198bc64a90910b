"""``Evaluation``: the metrics of one model on one hold-out set, overall and per slice, plus
calibration bins, as a plain dataclass (JSON round-trip) that components persist as an artifact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mloop.errors import ValidationError
from mloop.evaluation.metrics import (
    calibration_bins,
    check_finite,
    classification_metrics,
    regression_metrics,
)
from mloop.evaluation.slicing import slice_metrics

__all__ = ["Evaluation", "evaluate_predictions"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of ``model`` (a label: package digest, ``models:/`` URI...) on ``rows`` rows."""

    task: str
    model: str
    rows: int
    metrics: dict[str, float]
    slices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    dataset: str | None = None  # digest or name of the hold-out set

    def slice_metric(self, column: str, key: str, metric: str) -> float | None:
        found = self.slices.get(column, {}).get(key, {}).get("metrics", {})
        return found.get(metric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "rows": self.rows,
            "metrics": dict(self.metrics),
            "slices": self.slices,
            "calibration": list(self.calibration),
            "dataset": self.dataset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            task=data["task"],
            model=data["model"],
            rows=int(data["rows"]),
            metrics={k: float(v) for k, v in data["metrics"].items()},
            slices=dict(data.get("slices", {})),
            calibration=list(data.get("calibration", [])),
            dataset=data.get("dataset"),
        )


def evaluate_predictions(
    labels: Any,
    predictions: Any,
    *,
    task: Task = "classification",
    slices: Mapping[str, Sequence[Any]] | None = None,
    model: str = "model",
    dataset: str | None = None,
    min_slice_rows: int = 30,
    threshold: float = 0.5,
) -> Evaluation:
    """The evaluation of ``predictions`` (positive-class probabilities for a binary
    classification, values for a regression) against ``labels``, overall and per slice of each
    column in ``slices`` (same length as the labels)."""
    import numpy as np

    y = np.asarray(labels)
    pred = np.asarray(predictions, dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 2:
        pred = pred[:, 1]
    check_finite(pred, "predictions")
    if task == "classification":

        def compute(mask: Any) -> dict[str, float]:
            return classification_metrics(y[mask], pred[mask], threshold=threshold)

        bins = [b.to_dict() for b in calibration_bins(y, pred)]
    elif task == "regression":

        def compute(mask: Any) -> dict[str, float]:
            return regression_metrics(y[mask], pred[mask])

        bins = []
    else:
        raise ValidationError(f"task {task!r} is not 'classification' or 'regression'")
    columns = {k: np.asarray(v) for k, v in (slices or {}).items()}
    for name, values in columns.items():
        if len(values) != len(y):
            raise ValidationError(f"slice column {name!r} has {len(values)} rows, not {len(y)}")
    overall = compute(np.ones(len(y), dtype=bool))
    check_finite(np.array([v for v in overall.values()]), "metrics")  # NaN only if one class
    return Evaluation(
        task=task,
        model=model,
        rows=len(y),
        metrics=overall,
        slices=slice_metrics(columns, compute, min_rows=min_slice_rows),
        calibration=bins,
        dataset=dataset,
    )
