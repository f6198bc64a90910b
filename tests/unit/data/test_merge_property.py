"""Property: the statistics of two disjoint parts, merged, equal the statistics of the union
(exact for counts, moments, min, max, frequencies and the HLL registers; quantiles within the
KLL rank error)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mloop.data import compute_statistics

floats = st.one_of(st.none(), st.just(math.nan), st.floats(-1e6, 1e6))
words = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "dd", "eee", "ffff"]))


@st.composite
def frames(draw):
    n = draw(st.integers(2, 400))
    xs = draw(st.lists(floats, min_size=n, max_size=n))
    ks = draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n))
    ws = draw(st.lists(words, min_size=n, max_size=n))
    cut = draw(st.integers(1, n - 1))
    df = pl.DataFrame(
        {"x": pl.Series(xs, dtype=pl.Float64), "k": ks, "w": pl.Series(ws, dtype=pl.String)}
    )
    return df, cut


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_merge_of_parts_equals_statistics_of_the_union(case):
    df, cut = case
    whole = compute_statistics(df)
    merged = compute_statistics(df[:cut]).merge(compute_statistics(df[cut:]))
    assert merged.num_rows == whole.num_rows
    for name in df.columns:
        a, b = merged[name], whole[name]
        assert (a.count, a.nulls) == (b.count, b.nulls)
        assert np.array_equal(a.distinct_sketch.registers, b.distinct_sketch.registers)
        assert a.distinct == b.distinct
        if b.numeric is not None:
            na, nb = a.numeric, b.numeric
            assert (na.count, na.zeros, na.nan, na.min, na.max) == (
                nb.count,
                nb.zeros,
                nb.nan,
                nb.min,
                nb.max,
            )
            assert na.mean == pytest.approx(nb.mean, rel=1e-9, abs=1e-6)
            assert na.m2 == pytest.approx(nb.m2, rel=1e-7, abs=1e-3)
            if nb.count:
                # KLL keeps every value below k=200 items: then quantiles are exact;
                # beyond, within its normalized rank error.
                ranks = [0.1, 0.5, 0.9]
                got = na.sketch.quantiles(ranks)
                values = np.sort(df[name].filter(df[name].is_finite()).cast(float).to_numpy())
                eps = na.sketch.rank_error if nb.count > 200 else 0.0
                for r, q in zip(ranks, got, strict=True):
                    rank = np.searchsorted(values, q, side="right") / len(values)
                    low = np.searchsorted(values, q, side="left") / len(values)
                    assert low - eps - 1 / len(values) <= r <= rank + eps + 1 / len(values)
        if b.categorical is not None:
            assert a.categorical.frequencies == b.categorical.frequencies
            assert a.categorical.length_sum == b.categorical.length_sum
            assert (a.categorical.length_min, a.categorical.length_max) == (
                b.categorical.length_min,
                b.categorical.length_max,
            )


def test_merge_with_a_column_absent_from_one_part_counts_it_null():
    left = compute_statistics(pl.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    right = compute_statistics(pl.DataFrame({"a": [3.0]}))
    merged = left.merge(right)
    assert merged["b"].count == 3 and merged["b"].nulls == 1
    assert merged["a"].numeric.mean == pytest.approx(2.0)
    assert math.isclose(merged["a"].numeric.std, 1.0)
