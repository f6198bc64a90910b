"""NaN/inf detection in outputs and metrics (nulls are data, NaN/inf are bugs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from mloop.cicd.ci.finite import non_finite_in_metrics, non_finite_in_value
from mloop.metadata.entities import Metric


def test_polars_nulls_pass_but_nan_and_inf_fail() -> None:
    assert non_finite_in_value(pl.DataFrame({"x": [1.0, None], "s": ["a", None]}), "f") == []
    problems = non_finite_in_value(
        pl.DataFrame({"x": [1.0, float("nan")], "y": [float("-inf"), 2.0], "n": [1, 2]}), "f"
    )
    assert problems == ["f: column 'x' holds 1 NAN value(s)", "f: column 'y' holds 1 INF value(s)"]


def test_arrow_tables_are_checked_like_polars() -> None:
    table = pa.table({"x": pa.array([1.0, float("inf")])})
    assert non_finite_in_value(table, "t") == ["t: column 'x' holds 1 INF value(s)"]


def test_pandas_nan_is_a_missing_value_but_inf_fails() -> None:
    assert non_finite_in_value(pd.DataFrame({"x": [1.0, np.nan]}), "p") == []
    assert non_finite_in_value(pd.DataFrame({"x": [np.inf, 1.0]}), "p") == [
        "p: column 'x' holds 1 INF value(s)"
    ]


def test_arrays_and_nested_results() -> None:
    assert non_finite_in_value(np.array([1.0, np.nan, np.inf]), "a") == [
        "a holds 1 NaN and 1 INF value(s)"
    ]
    assert non_finite_in_value(np.array([1, 2]), "a") == []
    nested = {"metrics": {"auc": 0.8, "loss": float("nan")}, "slices": [{"rmse": math.inf}]}
    assert non_finite_in_value(nested, "e") == [
        "e['metrics']['loss'] is nan",
        "e['slices'][0]['rmse'] is inf",
    ]
    assert non_finite_in_value({"ok": True, "n": None, "t": "nan"}, "e") == []


def test_metrics_with_nan_or_inf_are_reported() -> None:
    metrics = [Metric("auc", 0.8), Metric("loss", float("nan"), step=3), Metric("x", math.inf)]
    assert non_finite_in_metrics(metrics, "run") == [
        "run: metric 'loss' at step 3 is nan",
        "run: metric 'x' at step 0 is inf",
    ]
