"""The same metrics per slice of any column: one slice per category, or per quantile bin of a
numeric column with many values. Slices smaller than ``min_rows`` are reported (with their
count) but carry no metrics, so a handful of rows never decides a blessing."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["slice_keys", "slice_metrics"]

MAX_CATEGORIES = 50
NUMERIC_BINS = 5


def slice_keys(values: Any) -> Any:
    """A string label per row: the value itself for categories (and numbers with few distinct
    values), else the quantile bin ``[low, high]`` it falls in."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and series.nunique(dropna=True) > MAX_CATEGORIES:
        qs = np.unique(
            np.nanquantile(series.to_numpy(dtype=float), np.linspace(0, 1, NUMERIC_BINS + 1))
        )
        bins = pd.cut(series, qs, include_lowest=True, duplicates="drop")
        labels = bins.map(lambda iv: f"[{iv.left:.4g}, {iv.right:.4g}]").astype(object)
        return labels.where(series.notna(), "<missing>").to_numpy(dtype=object)
    return (
        series.astype(object).where(series.notna(), "<missing>").astype(str).to_numpy(dtype=object)
    )


def slice_metrics(
    columns: Mapping[str, Any],
    compute: Callable[[Any], dict[str, float]],
    *,
    min_rows: int = 30,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{column: {slice: {"count": n, "metrics": {...}}}}`` where ``compute(mask)`` gives the
    metrics of the rows selected by a boolean mask."""
    import numpy as np

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column, values in columns.items():
        keys = slice_keys(values)
        per: dict[str, dict[str, Any]] = {}
        for key in sorted(set(keys.tolist())):
            mask = keys == key
            n = int(np.count_nonzero(mask))
            metrics = compute(mask) if n >= min_rows else {}
            per[str(key)] = {
                "count": n,
                "metrics": {k: v for k, v in metrics.items() if not math.isnan(v)},
            }
        out[column] = per
    return out
