"""detect_drift: the methods, thresholds that hold at any size, overrides, the dataset verdict."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from mloop.data import DriftReport, Schema, compute_statistics, detect_drift, infer_schema
from mloop.data import drift_methods as dm
from mloop.errors import ValidationError


def _data(n: int, seed: int, shift: float = 0.0, p=(0.5, 0.3, 0.2)) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "c": rng.choice(["a", "b", "c"], n, p=list(p)),
            "when": pl.datetime_range(
                pl.datetime(2024, 1, 1),
                pl.datetime(2024, 1, 1) + pl.duration(minutes=n - 1),
                "1m",
                eager=True,
            ),
        }
    )


def test_scores_of_identical_distributions_are_zero_and_grow_with_change():
    same = np.array([100.0, 200.0, 300.0])
    assert (
        dm.psi(same, same) == 0.0
        and dm.js_distance(same, same) == 0.0
        and dm.linf(same, same) == 0.0
    )
    moved = np.array([300.0, 200.0, 100.0])
    assert dm.psi(same, moved) > 0.3 and 0.1 < dm.js_distance(same, moved) < 1.0
    assert dm.linf(same, moved) == pytest.approx(1 / 3)
    stat, p = dm.chi2_pvalue(same * 10, moved * 10)
    assert stat > 100 and p < 1e-10
    assert dm.chi2_pvalue(same, same)[1] == pytest.approx(1.0, abs=0.05)
    # the noise levels shrink as samples grow, and fall as alpha grows
    assert dm.psi_noise(1e3, 1e3, 10, 0.01) > dm.psi_noise(1e6, 1e6, 10, 0.01)
    assert dm.js_noise(1e3, 1e3, 10, 0.001) > dm.js_noise(1e3, 1e3, 10, 0.01)


@pytest.mark.parametrize("n", [300, 5000, 200_000])
def test_no_false_alarm_on_fresh_samples_and_a_shift_found_at_every_size(n: int):
    ref = compute_statistics(_data(n, 1))
    same = detect_drift(ref, compute_statistics(_data(n, 2)))
    assert same.drifted_features == [] and not same.dataset_drifted
    moved = detect_drift(ref, compute_statistics(_data(n, 3, shift=1.0, p=(0.2, 0.3, 0.5))))
    assert moved.drifted_features == ["x", "c"]
    x = moved["x"]
    assert x.method == "psi" and x.score > x.threshold >= 0.1 and x.floor == 0.1
    moved_sd = float(x.summary.split("(")[1].split(" sd")[0])
    assert 0.7 < moved_sd < 1.4  # the summary says the mean moved by about one deviation
    assert moved["when"].status == "skipped"
    assert moved.share_drifted == 1.0 and moved.dataset_drifted


def test_small_samples_raise_the_threshold_and_tiny_ones_are_not_judged():
    ref = compute_statistics(_data(5000, 1))
    small = detect_drift(ref, compute_statistics(_data(60, 2)))
    assert small["x"].noise > small["x"].floor and small["x"].threshold == small["x"].noise
    tiny = detect_drift(ref, compute_statistics(_data(20, 2, shift=3.0)))
    assert tiny["x"].status == "insufficient_data" and not tiny["x"].drifted
    assert "fewer than 50 values" in tiny["x"].summary


def test_schema_overrides_method_and_threshold():
    ref = compute_statistics(_data(3000, 1))
    cur = compute_statistics(_data(3000, 2, shift=0.3))
    schema = infer_schema(ref)
    schema["x"].drift.method = "wasserstein"
    schema["x"].drift.threshold = 0.2
    schema["c"].drift.method = "linf"
    report = detect_drift(ref, cur, schema)
    assert report["x"].method == "wasserstein" and report["x"].floor == 0.2
    assert report["x"].score == pytest.approx(0.3, abs=0.08) and report["x"].drifted
    assert report["c"].method == "linf" and not report["c"].drifted
    schema["x"].drift.method = "ks"
    schema["c"].drift.method = "chi2"
    report = detect_drift(ref, cur, schema)
    assert report["x"].p_value is not None and report["x"].p_value < 1e-6 and report["x"].drifted
    assert report["c"].p_value > 0.01 and not report["c"].drifted
    schema["c"].drift.method = "ks"
    with pytest.raises(ValidationError, match="categorical: drift method 'ks' needs numbers"):
        detect_drift(ref, cur, schema)


def test_benjamini_hochberg_corrects_many_p_values():
    n = 400
    rng = np.random.default_rng(0)
    ref_df = pl.DataFrame({f"v{i}": rng.normal(0, 1, n) for i in range(20)})
    cur_df = pl.DataFrame({f"v{i}": rng.normal(0, 1, n) for i in range(20)})
    schema = Schema.from_dict(
        {"features": {f"v{i}": {"kind": "numeric", "drift": {"method": "ks"}} for i in range(20)}}
    )
    report = detect_drift(compute_statistics(ref_df), compute_statistics(cur_df), schema)
    raw_rejections = sum(f.p_value < 0.05 for f in report.features)
    assert report.drifted_features == []
    assert raw_rejections <= 3  # uncorrected, some would be flagged by chance at 0.05


def test_missing_and_type_changed_columns_and_report_round_trip():
    ref = compute_statistics(_data(500, 1))
    cur = compute_statistics(_data(500, 2).drop("c").with_columns(pl.col("x").cast(pl.String)))
    report = detect_drift(ref, cur)
    assert report["c"].status == "missing" and not report["c"].drifted
    assert report["x"].status == "type_changed" and report["x"].drifted
    again = DriftReport.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()
    assert math.isnan(again["c"].score)


def test_thirty_features_of_the_same_data_do_not_drift():
    """Thirty features, the same rows in another order: none drifted. (How fast: bench_data.py
    prints drift of 30 features beside its 100 ms budget; speed is not asserted here.)"""
    rng = np.random.default_rng(0)
    cols = {f"n{i}": rng.normal(0, 1, 5000) for i in range(20)}
    cols.update({f"c{i}": rng.choice(list("abcdefgh"), 5000) for i in range(10)})
    ref = compute_statistics(pl.DataFrame(cols))
    cur = compute_statistics(pl.DataFrame(cols).reverse())
    report = detect_drift(ref, cur)
    assert len(report.features) == 30 and report.drifted_features == []
