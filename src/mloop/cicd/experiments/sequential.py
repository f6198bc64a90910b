r"""Interval estimates and an always-valid sequential test for comparing two proportions
(the live accuracy of a champion and a canary), implemented with numpy and scipy.

**Wilson score interval** for one proportion :math:`\hat p = x/n` at level :math:`1-\alpha`,
with :math:`z = \Phi^{-1}(1-\alpha/2)`:

.. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

It keeps its coverage for small ``n`` and for :math:`\hat p` near 0 or 1, where the Wald
interval does not.

**Difference of two proportions** :math:`\theta = p_B - p_A`: Newcombe's hybrid score interval
(method 10 of Newcombe, 1998), built from the two Wilson intervals :math:`[l_A, u_A]`,
:math:`[l_B, u_B]`:

.. math:: \Big[\hat\theta - \sqrt{(\hat p_B - l_B)^2 + (u_A - \hat p_A)^2},\;
          \hat\theta + \sqrt{(u_B - \hat p_B)^2 + (\hat p_A - l_A)^2}\Big]

**Mixture sequential probability ratio test** (mSPRT; Robbins 1970, as used for A/B tests by
Johari, Pekelis and Walsh, "Always valid inference", 2017/2022). With :math:`\hat\theta_n` the
observed difference after ``n`` labelled rows and :math:`V_n = \hat p_A(1-\hat p_A)/n_A +
\hat p_B(1-\hat p_B)/n_B` its variance, :math:`\hat\theta_n` is approximately
:math:`N(\theta, V_n)`. Mixing the likelihood ratio of :math:`\theta` against
:math:`\theta = 0` over a prior :math:`\theta \sim N(0, \tau^2)` gives

.. math:: \Lambda_n = \sqrt{\frac{V_n}{V_n + \tau^2}}
          \exp\!\Big(\frac{\tau^2 \hat\theta_n^2}{2 V_n (V_n + \tau^2)}\Big)

Under :math:`H_0: \theta = 0`, :math:`\Lambda_n` is a non-negative martingale with mean 1, so by
Ville's inequality :math:`P(\sup_n \Lambda_n \ge 1/\alpha) \le \alpha`: the **always-valid
p-value** :math:`p_n = \min(1, \min_{k \le n} 1/\Lambda_k)` may be looked at after every row and
the test stopped the first time :math:`p_n \le \alpha`, and the type-I error stays at most
:math:`\alpha` however many looks were taken (a fixed-horizon z-test looked at repeatedly does
not: tests/unit/cicd/test_sequential.py shows both by simulation). :math:`\tau` is the size of
difference the test is tuned to detect fastest (default 0.05: five points of accuracy). The
normal approximation needs some rows in each arm: below :data:`MIN_ROWS` per arm the statistic
is not computed (:math:`\Lambda = 1`).

The always-valid p-value is computed from a *trajectory* of looks (cumulative counts at several
points in time), so a stateless command that recomputes it from the prediction log gets the
running minimum without having to remember earlier looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "MIN_ROWS",
    "SequentialResult",
    "mixture_lr",
    "newcombe_interval",
    "sequential_test",
    "wilson_interval",
]

MIN_ROWS = 30  # labelled rows per arm before the normal approximation is trusted
DEFAULT_TAU = 0.05  # the mixing prior's standard deviation: effect size tuned for (proportion)


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n`` at level ``1 - alpha`` (``(0, 1)`` for
    ``n == 0``: nothing is known)."""
    if n <= 0:
        return 0.0, 1.0
    z = _z(alpha)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def newcombe_interval(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``p_B - p_A`` at level ``1 - alpha``."""
    if n_a <= 0 or n_b <= 0:
        return -1.0, 1.0
    pa, pb = successes_a / n_a, successes_b / n_b
    la, ua = wilson_interval(successes_a, n_a, alpha)
    lb, ub = wilson_interval(successes_b, n_b, alpha)
    diff = pb - pa
    low = diff - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = diff + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return float(low), float(high)


def mixture_lr(
    successes_a: np.ndarray,
    n_a: np.ndarray,
    successes_b: np.ndarray,
    n_b: np.ndarray,
    tau: float = DEFAULT_TAU,
) -> np.ndarray:
    """:math:`\\Lambda` at each look (arrays of cumulative counts, any shape, broadcast);
    1 where an arm has fewer than :data:`MIN_ROWS` rows."""
    sa, na = np.asarray(successes_a, float), np.asarray(n_a, float)
    sb, nb = np.asarray(successes_b, float), np.asarray(n_b, float)
    enough = (na >= MIN_ROWS) & (nb >= MIN_ROWS)
    na_safe, nb_safe = np.maximum(na, 1.0), np.maximum(nb, 1.0)
    # keep the plug-in variance away from 0 when an arm is all right (or all wrong) so far
    pa = np.clip(sa / na_safe, 0.5 / na_safe, 1 - 0.5 / na_safe)
    pb = np.clip(sb / nb_safe, 0.5 / nb_safe, 1 - 0.5 / nb_safe)
    var = pa * (1 - pa) / na_safe + pb * (1 - pb) / nb_safe
    theta = sb / nb_safe - sa / na_safe
    t2 = tau * tau
    log_lr = 0.5 * np.log(var / (var + t2)) + t2 * theta**2 / (2 * var * (var + t2))
    return np.where(enough, np.exp(np.minimum(log_lr, 700.0)), 1.0)


@dataclass(frozen=True)
class SequentialResult:
    """The test after the last look: ``p_value`` always valid (running minimum over looks),
    ``lr`` the mixture likelihood ratio now, ``rejected`` when ``p_value <= alpha``."""

    p_value: float
    lr: float
    looks: int
    rejected: bool
    alpha: float
    tau: float


def sequential_test(
    successes_a: np.ndarray,
    n_a: np.ndarray,
    successes_b: np.ndarray,
    n_b: np.ndarray,
    *,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
) -> SequentialResult:
    """The mSPRT over a trajectory of looks (1-D arrays of cumulative counts, in time order)."""
    lrs = mixture_lr(successes_a, n_a, successes_b, n_b, tau)
    lrs = np.atleast_1d(lrs)
    p = float(min(1.0, 1.0 / float(np.max(lrs)))) if lrs.size else 1.0
    return SequentialResult(
        p_value=p,
        lr=float(lrs[-1]) if lrs.size else 1.0,
        looks=int(lrs.size),
        rejected=p <= alpha,
        alpha=alpha,
        tau=tau,
    )
