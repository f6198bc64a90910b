"""Candidate against baseline on the same hold-out set: the difference of every metric overall
and in every slice both have, signed so that ``gain > 0`` always means the candidate is better."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mloop.evaluation.evaluation import Evaluation
from mloop.evaluation.metrics import HIGHER_IS_BETTER

__all__ = ["Comparison", "MetricDelta", "compare"]


@dataclass(frozen=True)
class MetricDelta:
    """One metric: ``slice`` is ``None`` overall, else ``(column, key)``."""

    metric: str
    candidate: float
    baseline: float
    slice: tuple[str, str] | None = None

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def gain(self) -> float:
        """``delta`` signed by the metric's direction: positive is better."""
        return self.delta if HIGHER_IS_BETTER.get(self.metric, True) else -self.delta

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["slice"] = None if self.slice is None else list(self.slice)
        return {**data, "delta": self.delta, "gain": self.gain}


@dataclass(frozen=True)
class Comparison:
    candidate: str
    baseline: str
    overall: tuple[MetricDelta, ...]
    slices: tuple[MetricDelta, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "overall": [d.to_dict() for d in self.overall],
            "slices": [d.to_dict() for d in self.slices],
        }


def compare(candidate: Evaluation, baseline: Evaluation) -> Comparison:
    """Metric deltas where both evaluations have a value (same metric, same slice)."""
    overall = tuple(
        MetricDelta(m, candidate.metrics[m], baseline.metrics[m])
        for m in sorted(candidate.metrics)
        if m in baseline.metrics
    )
    per_slice: list[MetricDelta] = []
    for column, groups in sorted(candidate.slices.items()):
        for key, found in sorted(groups.items()):
            for metric, value in sorted(found.get("metrics", {}).items()):
                base = baseline.slice_metric(column, key, metric)
                if base is not None:
                    per_slice.append(MetricDelta(metric, value, base, (column, key)))
    return Comparison(candidate.model, baseline.model, overall, tuple(per_slice))
