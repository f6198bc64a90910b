"""Check (c) of ``mloop ci``: training converges.

Two parts:

- **curves**: every metric a smoke run logged at two or more steps (``mloop.log_metrics(...,
  step=i)``) whose name says which way is better must have moved that way from its first to its
  last step: ``loss``/``error``/``rmse``/``mae`` fall, ``auc``/``accuracy``/``score``/``r2``
  rise. Metrics with other names are not judged.
- **overfit a small sample**: each step of the ``train`` component is refitted, with its own
  parameters, on a small balanced sample of its own training data, and must score at least
  ``min_score`` *on that sample*: ROC AUC for a binary classifier with probabilities, accuracy
  for other classifiers, R2 for a regressor. A model that cannot fit 64 rows it has seen has a
  bug in its features, labels or settings (the classic sanity check before a long training).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from mloop.metadata.entities import Metric

__all__ = ["curve_direction", "judge_curves", "overfit_score", "small_sample"]

_LOWER = ("loss", "error", "rmse", "mae", "mse")
_HIGHER = ("auc", "accuracy", "score", "r2", "f1", "precision", "recall")


def curve_direction(key: str) -> str | None:
    """``"falls"``, ``"rises"`` or None (a metric name that says nothing about direction)."""
    name = key.lower()
    if any(word in name for word in _LOWER):
        return "falls"
    if any(word in name for word in _HIGHER):
        return "rises"
    return None


def judge_curves(metrics: Iterable[Metric], where: str) -> tuple[list[str], list[str]]:
    """``(curves that moved the right way, problems)`` for the step-indexed metrics."""
    by_key: dict[tuple[str | None, str], list[Metric]] = defaultdict(list)
    for m in metrics:
        by_key[(m.execution_id, m.key)].append(m)
    good, problems = [], []
    for (_, key), values in sorted(by_key.items(), key=lambda kv: kv[0][1]):
        steps = sorted(values, key=lambda m: (m.step, m.timestamp or 0))
        direction = curve_direction(key)
        if len({m.step for m in steps}) < 2 or direction is None:
            continue
        first, last = float(steps[0].value), float(steps[-1].value)
        moved = last < first if direction == "falls" else last > first
        span = f"steps {steps[0].step}..{steps[-1].step}"
        text = f"{where}: {key} {first:.4g} -> {last:.4g} over {span}"
        if moved:
            good.append(text)
        else:
            problems.append(f"{text}, but it should {direction[:-1]}")
    return good, problems


def small_sample(frame: Any, label: str, rows: int, *, classification: bool, seed: int = 0) -> Any:
    """At most ``rows`` rows of ``frame`` (pandas); for classification as balanced over the
    label's classes as the data allows, so that a rare class is in the sample."""
    if len(frame) <= rows:
        return frame
    if not classification:
        return frame.sample(n=rows, random_state=seed)
    groups = list(frame.groupby(label, sort=True, dropna=False))
    share = max(1, rows // max(len(groups), 1))
    parts = [g.sample(n=min(len(g), share), random_state=seed) for _, g in groups]
    import pandas as pd

    picked = pd.concat(parts)
    rest = frame.drop(index=picked.index)
    missing = rows - len(picked)
    if missing > 0 and len(rest):
        picked = pd.concat([picked, rest.sample(n=min(missing, len(rest)), random_state=seed)])
    return picked


def _is_classification(y: Any, positive: Any) -> bool:
    import numpy as np

    arr = np.asarray(y)
    return (
        positive is not None
        or arr.dtype.kind in "OUSb"
        or (arr.dtype.kind in "iu" and len(np.unique(arr)) <= 20)
    )


def overfit_score(data: Any, params: Mapping[str, Any], rows: int) -> tuple[str, float, int]:
    """Refit a ``train`` step (its recorded ``params``) on a small sample of ``data`` and score
    it on that same sample: ``(metric name, score, rows used)``."""
    import numpy as np

    from mloop.components.train import build_estimator, features_and_labels, fit_checked
    from mloop.models.package import as_pandas

    frame = as_pandas(data)
    label = str(params["label"])
    positive = params.get("positive")
    _, y_all = features_and_labels(frame, label, positive=positive)
    classification = _is_classification(y_all, positive)
    sample = small_sample(frame, label, rows, classification=classification)
    x, y = features_and_labels(sample, label, positive=positive, features=params.get("features"))
    model = build_estimator(
        str(params.get("estimator", "sklearn.linear_model:LogisticRegression")),
        params.get("params"),
        preprocess=str(params.get("preprocess", "auto")),
        frame=x,
    )
    fitted = fit_checked(model, x, y)
    if not classification:
        from sklearn.metrics import r2_score

        return "r2", float(r2_score(y, fitted.predict(x))), len(x)
    classes = np.unique(y)
    if len(classes) == 2 and hasattr(fitted, "predict_proba"):
        from sklearn.metrics import roc_auc_score

        proba = np.asarray(fitted.predict_proba(x))[:, 1]
        return "roc_auc", float(roc_auc_score(y, proba)), len(x)
    return "accuracy", float(np.mean(np.asarray(fitted.predict(x)) == y)), len(x)
