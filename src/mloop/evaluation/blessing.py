"""Blessing: the declarative decision that a candidate model is good enough to push.

Three kinds of threshold, all in a ``ValidationSpec``:
- ``floors``: absolute bounds (``roc_auc >= 0.70``; for lower-is-better metrics such as
  ``log_loss`` the bound is a ceiling);
- ``tolerance``: the candidate may be worse than the baseline overall by at most this much
  (absolute, in the metric's unit);
- ``slice_tolerance``: no slice may be worse than the baseline's same slice by more than this,
  so "better overall but much worse in one region" is not blessed.

The overall tolerance is also judged against the best of the earlier promoted versions
(``references``, scored on the same rows): otherwise each candidate may lose ``tolerance`` to
the one before it, and a chain of small losses (0.82687 -> 0.82682 -> 0.82663) ratchets down
without bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mloop.errors import ValidationError
from mloop.evaluation.compare import Comparison, compare
from mloop.evaluation.evaluation import Evaluation
from mloop.evaluation.metrics import HIGHER_IS_BETTER

__all__ = ["Blessing", "Check", "ValidationSpec", "bless"]


@dataclass(frozen=True)
class ValidationSpec:
    floors: dict[str, float] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)
    slice_tolerance: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ValidationSpec:
        data = dict(data or {})
        unknown = sorted(set(data) - {"floors", "tolerance", "slice_tolerance"})
        if unknown:
            raise ValidationError(
                f"unknown validation setting(s) {unknown}; use floors, tolerance, slice_tolerance"
            )
        parts: dict[str, dict[str, float]] = {}
        for key in ("floors", "tolerance", "slice_tolerance"):
            raw = data.get(key) or {}
            if not isinstance(raw, Mapping):
                raise ValidationError(f"validation '{key}' must map metric names to numbers")
            try:
                parts[key] = {str(k): float(v) for k, v in raw.items()}
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"validation '{key}' must map metrics to numbers") from exc
            if key != "floors" and any(v < 0 for v in parts[key].values()):
                raise ValidationError(f"validation '{key}' values must be >= 0")
        return cls(**parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """One threshold check and its outcome; ``slice`` is ``column=key`` or None."""

    kind: str  # "floor" | "baseline" | "slice"
    metric: str
    value: float | None
    limit: float
    passed: bool
    reason: str
    slice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Blessing:
    """The verdict: ``blessed``, and the checks with a reason for each failure."""

    blessed: bool
    checks: tuple[Check, ...]
    baseline: str | None = None
    comparison: Comparison | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # the candidate's, overall

    @property
    def reasons(self) -> list[str]:
        """Why it was not blessed (empty when it was)."""
        return [c.reason for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "blessed": self.blessed,
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            "baseline": self.baseline,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Blessing:
        checks = tuple(Check(**c) for c in data.get("checks", []))
        metrics = {k: float(v) for k, v in (data.get("metrics") or {}).items()}
        return cls(bool(data["blessed"]), checks, data.get("baseline"), None, metrics)


def bless(
    candidate: Evaluation,
    spec: ValidationSpec,
    baseline: Evaluation | None = None,
    references: Sequence[Evaluation] = (),
) -> Blessing:
    """Apply every threshold of ``spec``; without a baseline only the floors apply.

    ``references``: evaluations (on the same rows) of versions promoted before the baseline;
    for each ``tolerance`` metric the candidate must also be within tolerance of the best of
    them when that best beats the baseline (check kind ``best``)."""
    checks: list[Check] = []
    for metric, limit in sorted(spec.floors.items()):
        value = candidate.metrics.get(metric)
        higher = HIGHER_IS_BETTER.get(metric, True)
        ok = value is not None and (value >= limit if higher else value <= limit)
        op = ">=" if higher else "<="
        checks.append(
            Check(
                "floor",
                metric,
                value,
                limit,
                ok,
                f"{metric} = {_fmt(value)} breaks the floor {metric} {op} {limit}",
            )
        )
    comparison = None
    if baseline is not None:
        comparison = compare(candidate, baseline)
        for d in comparison.overall:
            tol = spec.tolerance.get(d.metric)
            if tol is None:
                continue
            checks.append(
                Check(
                    "baseline",
                    d.metric,
                    d.candidate,
                    tol,
                    d.gain >= -tol,
                    f"{d.metric} = {d.candidate:.4f} is worse than the baseline's "
                    f"{d.baseline:.4f} by {-d.gain:.4f} (tolerance {tol})",
                )
            )
        checks.extend(_best_checks(candidate, spec, baseline, references))
        for d in comparison.slices:
            tol = spec.slice_tolerance.get(d.metric)
            if tol is None or d.slice is None:
                continue
            where = f"{d.slice[0]}={d.slice[1]}"
            checks.append(
                Check(
                    "slice",
                    d.metric,
                    d.candidate,
                    tol,
                    d.gain >= -tol,
                    f"{d.metric} in slice {where} = {d.candidate:.4f} is worse than the "
                    f"baseline's {d.baseline:.4f} by {-d.gain:.4f} (slice tolerance {tol})",
                    slice=where,
                )
            )
    return Blessing(
        all(c.passed for c in checks),
        tuple(checks),
        None if baseline is None else baseline.model,
        comparison,
        {k: v for k, v in candidate.metrics.items() if v == v},  # NaN left out
    )


def _best_checks(
    candidate: Evaluation,
    spec: ValidationSpec,
    baseline: Evaluation,
    references: Sequence[Evaluation],
) -> list[Check]:
    """Tolerance against the best earlier version, for each metric where it beats the
    baseline (where the baseline is the best, the baseline check already says it all)."""
    checks = []
    for metric, tol in sorted(spec.tolerance.items()):
        value = candidate.metrics.get(metric)
        higher = HIGHER_IS_BETTER.get(metric, True)
        scored = [
            (r.metrics[metric], r)
            for r in references
            if r.metrics.get(metric) is not None and r.metrics[metric] == r.metrics[metric]
        ]
        if value is None or not scored:
            continue
        best_value, best = (max if higher else min)(scored, key=lambda vr: vr[0])
        base_value = baseline.metrics.get(metric)
        if base_value is not None and (
            best_value <= base_value if higher else best_value >= base_value
        ):
            continue
        gain = value - best_value if higher else best_value - value
        checks.append(
            Check(
                "best",
                metric,
                value,
                tol,
                gain >= -tol,
                f"{metric} = {value:.5f} is worse than the best earlier version's "
                f"{best_value:.5f} ({best.model}) by {-gain:.5f} (tolerance {tol}): small "
                "losses may not add up across promotions",
            )
        )
    return checks


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4f}"
