"""Live performance: predictions joined with the feedback labels that arrived for them, the
request error rate, and latency.

The metrics are ``mloop.evaluation``'s (the evaluator's), so a live ``accuracy`` means what it
meant when the model was blessed. The error rate is the service's: failed requests (the error
log) over all requests (failed ones plus the answered ones of the prediction log). Latency is
per request (one value per ``request_id``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mloop.errors import MloopError
from mloop.evaluation import classification_metrics, regression_metrics

__all__ = ["join_feedback", "latency_percentiles", "live_metrics", "request_errors"]


def join_feedback(frame: Any, feedback: Any) -> Any:
    """The labelled rows of ``frame`` (a ``label`` column added); empty if none arrived."""
    import polars as pl

    if feedback.is_empty() or frame.is_empty():
        return frame.head(0).with_columns(pl.lit(None).alias("label"))
    labels = feedback.with_columns(pl.col("row").cast(frame["row"].dtype))
    # the frame's row order, so that metrics summed over the rows do not depend on the join
    return frame.join(labels, on=["request_id", "row"], how="inner", maintain_order="left").filter(
        pl.col("label").is_not_null()
    )


def _binary_labels(labels: np.ndarray) -> np.ndarray | None:
    try:
        as_float = labels.astype(np.float64)
    except (TypeError, ValueError):
        return None
    return as_float.astype(int) if set(np.unique(as_float)) <= {0.0, 1.0} else None


def _labels_as_binary(
    predictions: np.ndarray, positive: np.ndarray, labels: np.ndarray
) -> np.ndarray | None:
    """1/0 labels from class labels: the second class (probability column 1) is the one the
    model predicts where that probability is over 0.5 (a classifier answers its labels, e.g.
    ``"bad"``/``"good"``). None when that cannot be told or a label is neither class."""
    ones = {str(v) for v in predictions[positive > 0.5]}
    zeros = {str(v) for v in predictions[positive < 0.5]}
    if len(ones) != 1 or len(zeros) > 1 or ones == zeros:
        return None
    (second,) = ones
    text = np.asarray([str(v) for v in labels])
    others = set(text.tolist()) - {second}
    if len(others) > 1 or (zeros and not others <= zeros):
        return None
    return (text == second).astype(int)


def _differ(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Where a prediction is not its label; numbers compare as numbers, anything else as text
    (feedback of mixed types is logged as text)."""
    if predictions.dtype.kind in "biuf" and labels.dtype.kind in "biuf":
        return predictions.astype(np.float64) != labels.astype(np.float64)

    def text(v: Any) -> str:
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    return np.asarray([text(v) for v in predictions]) != np.asarray([text(v) for v in labels])


def live_metrics(labelled: Any) -> dict[str, float]:
    """Evaluator metrics of labelled rows: classification when predictions are discrete
    labels (``misclassification_rate``: share of wrong predictions, 0-1), regression
    otherwise."""
    if labelled.is_empty():
        return {}
    predictions = labelled["prediction"].to_numpy()
    labels = labelled["label"].to_numpy()
    float_predictions = predictions.dtype.kind == "f" and not np.allclose(
        predictions, np.round(predictions)
    )
    if float_predictions:
        return regression_metrics(labels.astype(np.float64), predictions.astype(np.float64))
    metrics = {"misclassification_rate": float(np.mean(_differ(predictions, labels)))}
    metrics["accuracy"] = 1.0 - metrics["misclassification_rate"]
    binary = _binary_labels(labels)
    if "prediction_proba" in labelled.columns:
        lists = labelled["prediction_proba"]
        widths = lists.list.len()
        if lists.null_count() == 0 and widths.min() == 2 and widths.max() == 2:
            try:
                positive = lists.list.get(1).to_numpy().astype(np.float64)
                if binary is None:  # class labels ("bad"/"good"): 1 for the second class
                    binary = _labels_as_binary(predictions, positive, labels)
                if binary is None:
                    raise MloopError("the labels are not the model's two classes")
                found = classification_metrics(binary, positive)
            except MloopError:
                found = {}
            metrics.update({k: v for k, v in found.items() if k != "accuracy"})
    return metrics


def latency_percentiles(frame: Any) -> dict[str, float]:
    """p50 and p99 request latency in milliseconds (one value per request)."""
    if frame.is_empty() or "latency_ms" not in frame.columns:
        return {}
    import polars as pl

    lat = frame.group_by("request_id").agg(pl.col("latency_ms").max())["latency_ms"].to_numpy()
    return {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))}


def request_errors(frame: Any, errors: Any) -> dict[str, Any]:
    """Failed requests among all requests of a window (or of one version's part of it).

    ``frame``: prediction-log rows (answered requests, counted by distinct ``request_id``; the
    shadow's copies are not answers and are left out); ``errors``: error-log rows (one per
    failed request). Returns ``requests`` (answered + failed), ``answered_requests``,
    ``failed_requests``, ``server_failed_requests`` (5xx) and the shares ``error_rate`` and
    ``server_error_rate`` (0-1; None when there were no requests)."""
    import polars as pl

    answered = 0
    if not frame.is_empty():
        if "route" in frame.columns:
            frame = frame.filter(pl.col("route") != "shadow")
        answered = frame["request_id"].n_unique()
    failed = 0 if errors.is_empty() else errors.height
    server = 0 if errors.is_empty() else errors.filter(pl.col("status") >= 500).height
    total = answered + failed
    return {
        "requests": total,
        "answered_requests": answered,
        "failed_requests": failed,
        "server_failed_requests": server,
        "error_rate": failed / total if total else None,
        "server_error_rate": server / total if total else None,
    }
