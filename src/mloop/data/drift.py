"""``detect_drift``: per-feature drift between two Statistics, and a dataset-level verdict.

Works from statistics only (reference-quantile bins evaluated on both quantile sketches, or
value frequencies), so it compares windows and merged profiles as easily as whole datasets.

Defaults (see docs/adr/0007-drift-defaults.md): numeric features use PSI on the reference's
deciles, categorical ones the Jensen-Shannon distance (bits). A feature drifts when its score
exceeds ``max(floor, noise)``: the floor is an effect size that does not shrink with the
number of rows (PSI 0.1, JS 0.1), the noise is the score's own ``1 - alpha / features`` quantile
under no drift at these sample sizes, so neither millions of rows nor small windows cause
false alarms. Features with fewer than ``min_samples`` values are not judged. P-value methods
(``ks``, ``chi2``) are corrected for testing many features with Benjamini-Hochberg.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mloop.data import drift_methods as dm
from mloop.data.schema import DRIFT_METHODS, Schema
from mloop.data.types import CATEGORICAL, NUMERIC, FeatureStatistics, Statistics
from mloop.errors import ValidationError

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_METHODS",
    "DEFAULT_SHARE",
    "FLOORS",
    "MIN_SAMPLES",
    "DriftReport",
    "FeatureDrift",
    "detect_drift",
]

DEFAULT_METHODS = {NUMERIC: "psi", CATEGORICAL: "jensen_shannon"}
FLOORS = {"psi": 0.1, "jensen_shannon": 0.1, "wasserstein": 0.1, "linf": 0.1}
P_VALUE_METHODS = {"ks", "chi2"}
DEFAULT_ALPHA = 0.01  # family-wise false-alarm rate over all features of one comparison
DEFAULT_SHARE = 0.5  # the dataset drifts when at least this share of judged features drift
MIN_SAMPLES = 50  # values needed on each side before a feature is judged
IDENTIFIER_RATIO = 0.5  # categorical columns with more distinct values per row are identifiers
NUMERIC_BINS = 10  # reference deciles
_W_GRID = np.linspace(0.005, 0.995, 100)  # quantile ranks for the Wasserstein estimate


@dataclass
class FeatureDrift:
    """One feature's verdict. ``status``: ``ok``, ``drifted``, ``insufficient_data`` (too few
    values), ``skipped`` (a kind drift is not computed for), ``missing`` (absent from one side)
    or ``type_changed``. ``threshold`` is the one applied: ``max(floor, noise)`` for effect
    sizes, the Benjamini-Hochberg critical p-value for ``ks`` and ``chi2``."""

    name: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool
    status: str
    n_reference: int = 0
    n_current: int = 0
    p_value: float | None = None
    floor: float | None = None
    noise: float | None = None
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: _json_number(v) for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureDrift:
        values = dict(d)
        for key in ("score", "threshold", "p_value", "floor", "noise"):
            if values.get(key) is not None:
                values[key] = float(values[key])
        return cls(**values)


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


@dataclass
class DriftReport:
    """Per-feature verdicts and the dataset verdict: ``dataset_drifted`` when the share of
    drifted features among those judged reaches ``share_threshold``."""

    features: list[FeatureDrift] = field(default_factory=list)
    share_threshold: float = DEFAULT_SHARE
    alpha: float = DEFAULT_ALPHA

    @property
    def judged(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.status in ("ok", "drifted", "type_changed")]

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def share_drifted(self) -> float:
        judged = self.judged
        return sum(f.drifted for f in judged) / len(judged) if judged else 0.0

    @property
    def dataset_drifted(self) -> bool:
        return bool(self.judged) and self.share_drifted >= self.share_threshold

    def __getitem__(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise ValidationError(f"no feature {name!r} in this drift report")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drifted": self.dataset_drifted,
            "share_drifted": self.share_drifted,
            "share_threshold": self.share_threshold,
            "alpha": self.alpha,
            "drifted_features": self.drifted_features,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DriftReport:
        return cls(
            features=[FeatureDrift.from_dict(f) for f in d["features"]],
            share_threshold=float(d.get("share_threshold", DEFAULT_SHARE)),
            alpha=float(d.get("alpha", DEFAULT_ALPHA)),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> DriftReport:
        return cls.from_dict(json.loads(text))


def detect_drift(
    reference_stats: Statistics | Any,
    current_stats: Statistics | Any,
    schema: Schema | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    share_threshold: float = DEFAULT_SHARE,
    min_samples: int = MIN_SAMPLES,
) -> DriftReport:
    """Compare ``current_stats`` with ``reference_stats`` feature by feature.

    ``schema`` may override a feature's method and threshold (``FeatureSchema.drift``).
    ``alpha`` is the family-wise false-alarm rate spread over the features compared.
    Either side may also be a frame or a Parquet/CSV path (profiled once here).
    """
    from mloop.data.statistics import as_statistics

    reference_stats = as_statistics(reference_stats, "detect_drift: reference_stats")
    current_stats = as_statistics(current_stats, "detect_drift: current_stats")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be within (0, 1), got {alpha}")
    names = [
        *reference_stats.features,
        *(n for n in current_stats.features if n not in reference_stats.features),
    ]
    comparable = [
        n
        for n in names
        if n in reference_stats.features
        and n in current_stats.features
        and reference_stats.features[n].kind in (NUMERIC, CATEGORICAL)
    ]
    per_feature_alpha = alpha / max(len(comparable), 1)
    verdicts: list[FeatureDrift] = []
    pending_p: list[FeatureDrift] = []
    for name in names:
        ref, cur = reference_stats.features.get(name), current_stats.features.get(name)
        config = (
            schema.features[name].drift if schema is not None and name in schema.features else None
        )
        verdict = _compare(name, ref, cur, config, per_feature_alpha, min_samples)
        if verdict.p_value is not None and verdict.status in ("ok", "drifted"):
            pending_p.append(verdict)
        verdicts.append(verdict)
    _benjamini_hochberg(pending_p, alpha)
    return DriftReport(features=verdicts, share_threshold=share_threshold, alpha=alpha)


def _compare(
    name: str,
    ref: FeatureStatistics | None,
    cur: FeatureStatistics | None,
    config: Any,
    alpha: float,
    min_samples: int,
) -> FeatureDrift:
    if ref is None or cur is None:
        side = "current" if cur is None else "reference"
        kind = (ref or cur).kind  # type: ignore[union-attr]
        return _unjudged(name, kind, "missing", f"absent from the {side} data")
    if ref.kind != cur.kind:
        return FeatureDrift(
            name=name,
            kind=ref.kind,
            method="type_change",
            score=1.0,
            threshold=0.0,
            drifted=True,
            status="type_changed",
            n_reference=ref.present,
            n_current=cur.present,
            summary=f"type changed: {ref.dtype} ({ref.kind}) -> {cur.dtype} ({cur.kind})",
        )
    if ref.kind not in (NUMERIC, CATEGORICAL):
        summary = f"no drift method for {ref.kind} columns"
        return _unjudged(name, ref.kind, "skipped", summary, ref.present, cur.present)
    chosen = config.method if config is not None and config.method else None
    method = chosen or DEFAULT_METHODS[ref.kind]
    if method not in DRIFT_METHODS:
        raise ValidationError(
            f"feature {name!r}: drift method {method!r} unknown; use one of {DRIFT_METHODS}"
        )
    if ref.kind == CATEGORICAL and method in ("wasserstein", "ks"):
        raise ValidationError(
            f"feature {name!r} is categorical: drift method {method!r} needs numbers; "
            "use jensen_shannon, linf, chi2 or psi"
        )
    n_ref, n_cur = _sample_size(ref), _sample_size(cur)
    distinct = ref.distinct or 0
    if ref.kind == CATEGORICAL and chosen is None and distinct > IDENTIFIER_RATIO * max(n_ref, 1):
        summary = (
            f"identifier-like ({distinct} distinct values in {n_ref} rows); "
            "set a drift method in the schema to compare it anyway"
        )
        return _unjudged(name, ref.kind, "skipped", summary, n_ref, n_cur)
    base = _unjudged(name, ref.kind, "insufficient_data", "", n_ref, n_cur)
    base.method = method
    if min(n_ref, n_cur) < min_samples:
        base.summary = (
            f"fewer than {min_samples} values on one side ({n_ref} vs {n_cur}); not judged"
        )
        return base
    override = config.threshold if config is not None else None
    if ref.kind == NUMERIC:
        _score_numeric(base, ref, cur, method, alpha, override)
        base.summary = _numeric_summary(ref, cur)
    else:
        _score_categorical(base, ref, cur, method, alpha, override)
        base.summary = _categorical_summary(ref, cur)
    return base


def _unjudged(
    name: str, kind: str, status: str, summary: str, n_ref: int = 0, n_cur: int = 0
) -> FeatureDrift:
    """A verdict without a score: missing, skipped."""
    return FeatureDrift(
        name=name,
        kind=kind,
        method="none",
        score=math.nan,
        threshold=math.nan,
        drifted=False,
        status=status,
        n_reference=n_ref,
        n_current=n_cur,
        summary=summary,
    )


def _sample_size(f: FeatureStatistics) -> int:
    if f.numeric is not None:
        return f.numeric.count
    if f.categorical is not None:
        return f.categorical.count
    return f.present


def _judge(
    verdict: FeatureDrift, score: float, floor: float, noise: float, override: float | None
) -> None:
    verdict.score = score
    verdict.floor = override if override is not None else floor
    verdict.noise = noise
    verdict.threshold = max(verdict.floor, noise)
    verdict.drifted = score > verdict.threshold
    verdict.status = "drifted" if verdict.drifted else "ok"


def _numeric_bins(ref: FeatureStatistics, cur: FeatureStatistics) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides in the bins cut at the reference's deciles (open outer bins)."""
    assert ref.numeric is not None and cur.numeric is not None
    ranks = [i / NUMERIC_BINS for i in range(1, NUMERIC_BINS)]
    edges = sorted(set(ref.numeric.sketch.quantiles(ranks)))

    def counts(f: FeatureStatistics) -> np.ndarray:
        assert f.numeric is not None
        cdf = f.numeric.sketch.cdf(edges)
        return np.diff(np.concatenate([[0.0], cdf, [1.0]])) * f.numeric.count

    return counts(ref), counts(cur)


def _score_numeric(
    v: FeatureDrift,
    ref: FeatureStatistics,
    cur: FeatureStatistics,
    method: str,
    alpha: float,
    override: float | None,
) -> None:
    assert ref.numeric is not None and cur.numeric is not None
    n, m = float(v.n_reference), float(v.n_current)
    if method == "wasserstein":
        qr = np.asarray(ref.numeric.sketch.quantiles(_W_GRID), dtype=np.float64)
        qc = np.asarray(cur.numeric.sketch.quantiles(_W_GRID), dtype=np.float64)
        score = dm.wasserstein_normed(qr, qc, ref.numeric.std)
        _judge(v, score, FLOORS["wasserstein"], dm.wasserstein_noise(n, m, alpha), override)
        return
    if method == "ks":
        points = sorted(
            set(ref.numeric.sketch.quantiles(_W_GRID)) | set(cur.numeric.sketch.quantiles(_W_GRID))
        )
        error = max(
            ref.numeric.sketch.rank_error if n > 200 else 0.0,
            cur.numeric.sketch.rank_error if m > 200 else 0.0,
        )
        d, p = dm.ks_pvalue(
            ref.numeric.sketch.cdf(points), cur.numeric.sketch.cdf(points), n, m, error
        )
        v.score, v.p_value, v.status = d, p, "ok"
        return
    _score_binned(v, *_numeric_bins(ref, cur), method, alpha, override)


# Distance methods on binned counts: (score, its chance level at these sample sizes).
_DISTANCES = {
    "psi": (dm.psi, dm.psi_noise),
    "jensen_shannon": (dm.js_distance, dm.js_noise),
    "linf": (dm.linf, dm.linf_noise),
}


def _score_binned(
    v: FeatureDrift,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    method: str,
    alpha: float,
    override: float | None,
) -> None:
    n, m, bins = float(v.n_reference), float(v.n_current), len(ref_counts)
    if method in _DISTANCES:
        score, noise = _DISTANCES[method]
        _judge(
            v,
            score(ref_counts, cur_counts),
            FLOORS[method],
            noise(n, m, bins, alpha),
            override,
        )
    elif method == "chi2":
        v.score, v.p_value = dm.chi2_pvalue(ref_counts, cur_counts)
        v.status = "ok"
    else:  # pragma: no cover - guarded by the caller
        raise ValidationError(f"drift method {method!r} does not apply here")


def _score_categorical(
    v: FeatureDrift,
    ref: FeatureStatistics,
    cur: FeatureStatistics,
    method: str,
    alpha: float,
    override: float | None,
) -> None:
    assert ref.categorical is not None and cur.categorical is not None
    keys = sorted(set(ref.categorical.frequencies) | set(cur.categorical.frequencies))
    r = np.array(
        [ref.categorical.frequencies.get(k, 0) for k in keys] + [ref.categorical.other_count], float
    )
    c = np.array(
        [cur.categorical.frequencies.get(k, 0) for k in keys] + [cur.categorical.other_count], float
    )
    keep = (r + c) > 0
    _score_binned(v, r[keep], c[keep], method, alpha, override)


def _benjamini_hochberg(verdicts: list[FeatureDrift], q: float) -> None:
    """Mark drifted the p-value verdicts that Benjamini-Hochberg rejects at false-discovery
    rate ``q``; each verdict's threshold is the largest rejected rank's critical p-value."""
    if not verdicts:
        return
    ordered = sorted(verdicts, key=lambda v: v.p_value if v.p_value is not None else 1.0)
    count = len(ordered)
    cutoff_rank = 0
    for rank, verdict in enumerate(ordered, start=1):
        if (verdict.p_value or 1.0) <= q * rank / count:
            cutoff_rank = rank
    critical = q * cutoff_rank / count if cutoff_rank else q / count
    for rank, verdict in enumerate(ordered, start=1):
        verdict.threshold = critical
        verdict.drifted = rank <= cutoff_rank
        verdict.status = "drifted" if verdict.drifted else "ok"


def _numeric_summary(ref: FeatureStatistics, cur: FeatureStatistics) -> str:
    a, b = ref.numeric, cur.numeric
    assert a is not None and b is not None
    sd = a.std if a.std and math.isfinite(a.std) and a.std > 0 else 1.0
    qa, qb = a.quantiles, b.quantiles
    return (
        f"mean {a.mean:.4g} -> {b.mean:.4g} ({(b.mean - a.mean) / sd:+.2f} sd); "
        f"median {qa['q0.5']:.4g} -> {qb['q0.5']:.4g}; std {a.std:.4g} -> {b.std:.4g}"
    )


def _categorical_summary(ref: FeatureStatistics, cur: FeatureStatistics) -> str:
    a, b = ref.categorical, cur.categorical
    assert a is not None and b is not None
    na, nb = max(a.count, 1), max(b.count, 1)
    keys = set(a.frequencies) | set(b.frequencies)
    changes = sorted(  # ties by value: a set's order changes with every process's hash seed
        ((b.frequencies.get(k, 0) / nb - a.frequencies.get(k, 0) / na, k) for k in keys),
        key=lambda t: (-abs(t[0]), t[1]),
    )[:3]
    parts = [
        f"{k!r} {a.frequencies.get(k, 0) / na:.1%} -> {b.frequencies.get(k, 0) / nb:.1%}"
        for _, k in changes
    ]
    new = [k for k in b.frequencies if k not in a.frequencies] if a.exact else []
    if new:
        share = sum(b.frequencies[k] for k in new) / nb
        parts.append(f"{len(new)} new values ({share:.1%} of rows)")
    return "; ".join(parts)
