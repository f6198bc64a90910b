"""The intervals and the mSPRT of mloop.cicd.experiments.sequential, checked by simulation
(fixed seeds):
the type-I error under repeated looks stays at most alpha (within Monte Carlo error) where a
z-test looked at as often is far above it, and a real difference is found."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mloop.cicd.experiments.sequential import (
    mixture_lr,
    newcombe_interval,
    sequential_test,
    wilson_interval,
)

ALPHA = 0.05
RUNS = 400  # simulated experiments per scenario
ROWS = 3000  # labelled rows per experiment
LOOK = 50  # rows between looks: 60 looks per experiment
CANARY_SHARE = 0.3


def simulate(p_champion: float, p_canary: float, seed: int) -> tuple[np.ndarray, ...]:
    """Cumulative counts at every look of RUNS experiments (arrays RUNS x looks)."""
    rng = np.random.default_rng(seed)
    canary = rng.random((RUNS, ROWS)) < CANARY_SHARE
    p = np.where(canary, p_canary, p_champion)
    correct = rng.random((RUNS, ROWS)) < p
    looks = np.arange(LOOK - 1, ROWS, LOOK)
    n_b = np.cumsum(canary, axis=1)[:, looks]
    n_a = (looks + 1) - n_b
    s_b = np.cumsum(correct & canary, axis=1)[:, looks]
    s_a = np.cumsum(correct & ~canary, axis=1)[:, looks]
    return s_a, n_a, s_b, n_b


def monte_carlo_bound(rate: float) -> float:
    return rate + 3 * np.sqrt(rate * (1 - rate) / RUNS)


def test_type_one_error_stays_below_alpha_under_repeated_looks() -> None:
    s_a, n_a, s_b, n_b = simulate(0.8, 0.8, seed=1)
    rejected = (mixture_lr(s_a, n_a, s_b, n_b) >= 1 / ALPHA).any(axis=1)
    assert rejected.mean() <= monte_carlo_bound(ALPHA), rejected.mean()
    # the same looks with a fixed-horizon two-proportion z-test: far above alpha
    pa, pb = s_a / n_a, s_b / n_b
    pooled = (s_a + s_b) / (n_a + n_b)
    z = (pb - pa) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    naive = (np.abs(z) > stats.norm.ppf(1 - ALPHA / 2)).any(axis=1)
    assert naive.mean() > 2 * ALPHA, naive.mean()


def test_a_real_difference_is_found() -> None:
    s_a, n_a, s_b, n_b = simulate(0.8, 0.88, seed=2)
    rejected = (mixture_lr(s_a, n_a, s_b, n_b) >= 1 / ALPHA).any(axis=1)
    assert rejected.mean() >= 0.8, rejected.mean()


def test_the_p_value_is_the_running_minimum_over_looks() -> None:
    s_a, n_a, s_b, n_b = simulate(0.8, 0.95, seed=3)
    one = sequential_test(s_a[0], n_a[0], s_b[0], n_b[0], alpha=ALPHA)
    lrs = mixture_lr(s_a[0], n_a[0], s_b[0], n_b[0])
    assert one.p_value == pytest.approx(min(1.0, 1 / lrs.max()))
    assert one.rejected and one.looks == ROWS // LOOK
    # a later look that regresses towards no difference cannot undo an earlier rejection
    big = 10**6
    tail = sequential_test(
        np.r_[s_a[0], big],
        np.r_[n_a[0], 1.25 * big],
        np.r_[s_b[0], big],
        np.r_[n_b[0], 1.25 * big],
        alpha=ALPHA,
    )
    assert tail.p_value == one.p_value and tail.lr < 2


def test_too_few_rows_per_arm_means_no_evidence() -> None:
    result = sequential_test(np.array([20]), np.array([20]), np.array([0]), np.array([20]))
    assert result.p_value == 1.0 and not result.rejected


def test_wilson_interval_covers_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(4)
    n, p = 40, 0.9
    hits = rng.binomial(n, p, size=2000)
    covered = [lo <= p <= hi for lo, hi in (wilson_interval(int(h), n) for h in hits)]
    assert np.mean(covered) >= 0.93
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(40, 40)
    assert hi == 1.0 and 0.9 < lo < 1.0  # no zero-width interval at p = 1


def test_newcombe_interval_covers_the_difference() -> None:
    rng = np.random.default_rng(5)
    na, nb, pa, pb = 200, 80, 0.7, 0.8
    a, b = rng.binomial(na, pa, 2000), rng.binomial(nb, pb, 2000)
    covered = [
        lo <= pb - pa <= hi
        for lo, hi in (newcombe_interval(int(x), na, int(y), nb) for x, y in zip(a, b, strict=True))
    ]
    assert np.mean(covered) >= 0.93
