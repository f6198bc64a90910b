"""Online experiments: the champion against its canary (or the two arms of an A/B split) on
live traffic, from the prediction log and the delayed feedback labels.

Live traffic is what the ``champion`` and ``canary`` routes answered; ``shadow`` rows are
copies of requests whose answers no client saw, so they are left out. Each labelled row is a
Bernoulli trial (was the prediction right?); per arm the accuracy gets a Wilson interval, the
difference a Newcombe interval, and the mSPRT of :mod:`mloop.cicd.experiments.sequential`
(valid however often ``mloop experiments show`` is run) decides:

- ``promote``: the canary is better (the always-valid p-value is at most ``alpha`` and the
  difference is positive);
- ``rollback``: the canary is worse (p-value at most ``alpha``, difference negative);
- ``continue``: not enough evidence yet (or not enough labelled rows in an arm).

The test's trajectory is the labelled rows in time order, looked at every :data:`LOOK_EVERY`
rows, so its running minimum is recomputed from the log at each invocation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mloop.cicd.experiments.sequential import (
    DEFAULT_TAU,
    MIN_ROWS,
    newcombe_interval,
    sequential_test,
    wilson_interval,
)
from mloop.errors import ValidationError

__all__ = ["ArmStats", "ExperimentResult", "analyse_experiment", "labelled_live_rows"]

LIVE_ROUTES = ("champion", "canary")
LOOK_EVERY = 50  # labelled rows between two looks of the sequential test's trajectory


@dataclass(frozen=True)
class ArmStats:
    """One arm (route): its versions, rows predicted and labelled, accuracy with its interval,
    the other live metrics of :func:`mloop.monitoring.performance.live_metrics`."""

    route: str
    versions: list[str]
    predictions: int
    labelled: int
    correct: int
    accuracy: float | None
    accuracy_ci: tuple[float, float]
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentResult:
    """The comparison and its decision (``promote``, ``rollback`` or ``continue``) with why."""

    model: str
    window_start: datetime
    window_end: datetime
    arms: dict[str, ArmStats]
    difference: float | None
    difference_ci: tuple[float, float] | None
    p_value: float
    looks: int
    alpha: float
    tau: float
    decision: str
    reason: str
    shadow_rows_ignored: int = 0

    @property
    def canary_version(self) -> str | None:
        arm = self.arms.get("canary")
        return arm.versions[-1] if arm and arm.versions else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["canary_version"] = self.canary_version
        return out


def labelled_live_rows(
    log_dir: Path, model: str, start: datetime, end: datetime
) -> tuple[Any, int]:
    """Live predictions of ``[start, end)`` joined with their labels, time-ordered, with a
    ``correct`` column; and how many shadow rows were left out."""
    import polars as pl

    from mloop.monitoring.performance import join_feedback
    from mloop.monitoring.windows import LogWindow, read_feedback, read_predictions

    window = LogWindow(model, start, end)
    predictions = read_predictions(log_dir, window)
    if predictions.is_empty():
        return predictions, 0
    shadow = int((predictions["route"] == "shadow").sum())
    live = predictions.filter(pl.col("route").is_in(list(LIVE_ROUTES)))
    labelled = join_feedback(live, read_feedback(log_dir, window)).sort("timestamp", "row")
    if labelled.is_empty():
        return labelled.with_columns(pl.lit(False).alias("correct")), shadow
    return labelled.with_columns(pl.Series("correct", _correct(labelled))), shadow


def _correct(labelled: Any) -> np.ndarray:
    """Whether each prediction equals its label (numbers as numbers, anything else as text,
    as live monitoring compares them)."""
    predictions = labelled["prediction"].to_numpy()
    labels = labelled["label"].to_numpy()
    if predictions.dtype.kind in "biuf" and labels.dtype.kind in "biuf":
        return predictions.astype(np.float64) == labels.astype(np.float64)

    def text(v: Any) -> str:
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    return np.asarray([text(v) for v in predictions]) == np.asarray([text(v) for v in labels])


def _arm(route: str, all_rows: Any, labelled: Any, alpha: float) -> ArmStats:
    import polars as pl

    from mloop.monitoring.performance import live_metrics

    predicted = all_rows.filter(pl.col("route") == route) if not all_rows.is_empty() else all_rows
    rows = labelled.filter(pl.col("route") == route) if not labelled.is_empty() else labelled
    versions = (
        sorted(set(predicted["version"].cast(pl.Utf8).to_list()), key=_version_key)
        if not predicted.is_empty()
        else []
    )
    n = rows.height
    correct = int(rows["correct"].sum()) if n else 0
    try:
        metrics = live_metrics(rows.drop("correct")) if n else {}
    except Exception:  # a metric that cannot be computed on these rows is left out
        metrics = {}
    return ArmStats(
        route=route,
        versions=versions,
        predictions=predicted.height,
        labelled=n,
        correct=correct,
        accuracy=correct / n if n else None,
        accuracy_ci=wilson_interval(correct, n, alpha),
        metrics={k: float(v) for k, v in metrics.items() if v == v},
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)


def _trajectory(labelled: Any) -> tuple[np.ndarray, ...]:
    """Cumulative (correct, n) of champion and canary at every LOOK_EVERY-th labelled row and
    at the last one."""
    route = labelled["route"].to_numpy()
    correct = labelled["correct"].to_numpy().astype(np.int64)
    is_a, is_b = route == "champion", route == "canary"
    n_a, n_b = np.cumsum(is_a), np.cumsum(is_b)
    s_a, s_b = np.cumsum(correct * is_a), np.cumsum(correct * is_b)
    looks = np.unique(np.r_[np.arange(LOOK_EVERY - 1, len(route), LOOK_EVERY), len(route) - 1])
    return s_a[looks], n_a[looks], s_b[looks], n_b[looks]


def analyse_experiment(
    log_dir: Path,
    model: str,
    *,
    window: timedelta = timedelta(days=7),
    end: datetime | None = None,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
) -> ExperimentResult:
    """Compare the live arms of ``model`` over the ``window`` before ``end`` (default now)."""
    import polars as pl

    from mloop.monitoring.windows import LogWindow, read_predictions

    if not 0.0 < alpha < 1.0 or tau <= 0.0:
        raise ValidationError("alpha must be in (0, 1) and tau positive")
    stop = (end or datetime.now(timezone.utc)).astimezone(timezone.utc)
    start = stop - window
    labelled, shadow = labelled_live_rows(log_dir, model, start, stop)
    predicted = read_predictions(log_dir, LogWindow(model, start, stop))
    if not predicted.is_empty():
        predicted = predicted.filter(pl.col("route").is_in(list(LIVE_ROUTES)))
    arms = {route: _arm(route, predicted, labelled, alpha) for route in LIVE_ROUTES}
    a, b = arms["champion"], arms["canary"]
    diff = ci = None
    p_value, looks = 1.0, 0
    if a.labelled and b.labelled:
        diff = b.correct / b.labelled - a.correct / a.labelled
        ci = newcombe_interval(a.correct, a.labelled, b.correct, b.labelled, alpha)
        test = sequential_test(*_trajectory(labelled), alpha=alpha, tau=tau)
        p_value, looks = test.p_value, test.looks
    decision, reason = _decide(a, b, diff, p_value, alpha)
    return ExperimentResult(
        model, start, stop, arms, diff, ci, p_value, looks, alpha, tau, decision, reason, shadow
    )


def _decide(
    a: ArmStats, b: ArmStats, diff: float | None, p_value: float, alpha: float
) -> tuple[str, str]:
    if b.predictions == 0:
        return "continue", "no canary traffic in the window: nothing to compare"
    if a.labelled < MIN_ROWS or b.labelled < MIN_ROWS:
        return "continue", (
            f"not enough labelled rows yet (champion {a.labelled}, canary {b.labelled}; "
            f"at least {MIN_ROWS} each)"
        )
    assert diff is not None
    if p_value > alpha:
        return "continue", (
            f"no significant difference yet (always-valid p = {p_value:.3g} > alpha {alpha})"
        )
    better = "better" if diff > 0 else "worse"
    return ("promote" if diff > 0 else "rollback"), (
        f"the canary is {better} by {diff:+.3f} accuracy (always-valid p = {p_value:.3g} "
        f"<= alpha {alpha})"
    )
