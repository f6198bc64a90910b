"""Drift scores between two distributions given as binned counts or quantile sketches.

Each method returns a raw score and, for the effect-size methods, the score's own noise level
under "no drift" at the given sample sizes (its ``1 - alpha`` quantile), so that a threshold can
be ``max(floor, noise)``: fixed at large samples, raised where few rows make the score jumpy.
Binned scores follow ``(1/n + 1/m) * chi2(bins - 1)`` asymptotically under no drift (PSI as the
symmetric Jeffreys divergence, Jensen-Shannon as one eighth of it), which does not depend on
the data's distribution.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "SMOOTHING",
    "chi2_pvalue",
    "js_distance",
    "js_noise",
    "ks_pvalue",
    "linf",
    "linf_noise",
    "psi",
    "psi_noise",
    "wasserstein_noise",
    "wasserstein_normed",
]

SMOOTHING = 0.5  # pseudo-count added to every bin, so empty bins keep PSI finite


def _fractions(counts: np.ndarray) -> np.ndarray:
    smoothed = np.asarray(counts, dtype=float) + SMOOTHING
    return smoothed / smoothed.sum()


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index, sum of ``(q - p) * ln(q / p)`` over bins (>= 0)."""
    p, q = _fractions(reference), _fractions(current)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance in bits (square root of the divergence), within [0, 1]."""
    p, q = _fractions(reference), _fractions(current)
    m = (p + q) / 2
    divergence = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    return float(math.sqrt(max(divergence, 0.0)))


def linf(reference: np.ndarray, current: np.ndarray) -> float:
    """L-infinity distance: largest absolute change of a bin's share (as TFDV), within [0, 1]."""
    p = np.asarray(reference, float) / max(float(np.sum(reference)), 1.0)
    q = np.asarray(current, float) / max(float(np.sum(current)), 1.0)
    return float(np.max(np.abs(p - q))) if len(p) else 0.0


_NORMAL = NormalDist()


def _chi2_quantile(df: int, alpha: float) -> float:
    """Upper ``alpha`` quantile of chi-square(df) (Wilson-Hilferty; within 1 % for df >= 2)."""
    k = max(df, 1)
    z = _NORMAL.inv_cdf(1 - alpha)
    c = 2.0 / (9.0 * k)
    return k * (1 - c + z * math.sqrt(c)) ** 3


def _chi2_sf(x: float, df: int) -> float:
    """Survival function of chi-square(df) (Wilson-Hilferty)."""
    k = max(df, 1)
    c = 2.0 / (9.0 * k)
    z = ((max(x, 0.0) / k) ** (1 / 3) - (1 - c)) / math.sqrt(c)
    return 1.0 - _NORMAL.cdf(z)


def _kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution (alternating series)."""
    if lam < 0.2:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(max(2 * total, 0.0), 1.0)


def psi_noise(n: float, m: float, bins: int, alpha: float) -> float:
    """PSI's ``1 - alpha`` quantile under no drift for sample sizes ``n`` and ``m``."""
    return (1.0 / n + 1.0 / m) * _chi2_quantile(bins - 1, alpha)


def js_noise(n: float, m: float, bins: int, alpha: float) -> float:
    """Jensen-Shannon distance's (bits) ``1 - alpha`` quantile under no drift."""
    divergence_nats = psi_noise(n, m, bins, alpha) / 8.0
    return math.sqrt(divergence_nats / math.log(2))


def linf_noise(n: float, m: float, bins: int, alpha: float) -> float:
    """L-infinity's ``1 - alpha`` quantile under no drift (worst-case share 0.5, Bonferroni over
    bins)."""
    z = _NORMAL.inv_cdf(1 - alpha / (2 * max(bins, 1)))
    return 0.5 * z * math.sqrt(1.0 / n + 1.0 / m)


def chi2_pvalue(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x bins table: ``(statistic, p_value)``."""
    table = np.vstack([np.asarray(reference, float), np.asarray(current, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    totals = table.sum(axis=1, keepdims=True)
    expected = totals * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, _chi2_sf(statistic, table.shape[1] - 1)


def ks_pvalue(
    reference_cdf: np.ndarray, current_cdf: np.ndarray, n: float, m: float, rank_error: float
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov from CDFs on common points: ``(D, p_value)``; the
    sketches' rank error is subtracted from D first, so sketch noise alone never rejects."""
    d = float(np.max(np.abs(reference_cdf - current_cdf))) if len(reference_cdf) else 0.0
    effective = max(d - 2 * rank_error, 0.0)
    return d, _kolmogorov_sf(effective * math.sqrt(n * m / (n + m)))


def wasserstein_normed(
    reference_quantiles: np.ndarray, current_quantiles: np.ndarray, scale: float
) -> float:
    """Wasserstein-1 distance estimated on a grid of quantiles, divided by ``scale`` (the
    reference's standard deviation): 0.1 means the mass moved a tenth of a deviation."""
    if scale <= 0 or not math.isfinite(scale):
        scale = 1.0
    return float(np.mean(np.abs(reference_quantiles - current_quantiles)) / scale)


def wasserstein_noise(n: float, m: float, alpha: float) -> float:
    """Approximate ``1 - alpha`` quantile of the normed Wasserstein distance under no drift:
    ``sqrt(n m / (n + m)) * W / sd`` is about 0.9 on average for a normal and rarely beyond
    ``0.9 + 1.2 * sqrt(2 ln(1/alpha))``."""
    return (0.9 + 1.2 * math.sqrt(2 * math.log(1 / alpha))) * math.sqrt(1.0 / n + 1.0 / m)
