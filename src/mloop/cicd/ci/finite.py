"""Check (d) of ``mloop ci``: no NaN or infinite number in what a smoke run produced.

- **frames**: Polars/Arrow frames may hold neither NaN nor +/-inf in float columns (a missing
  value there is a null, which is data, not a bug); pandas frames may hold no +/-inf (pandas
  writes a missing value as NaN, so NaN cannot tell a bug from a gap there);
- **arrays** (numpy): neither NaN nor inf;
- **dicts and lists** (evaluation results, reports): every number in them, at any depth;
- **metrics** of the run and its steps: every logged value.

Model packages are not opened here: the train component already checks that a model's
predictions are finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mloop.metadata.entities import Metric

__all__ = ["non_finite_in_metrics", "non_finite_in_value"]

MAX_REPORTED = 5  # problems listed per value


def non_finite_in_value(value: Any, where: str) -> list[str]:
    """Where ``value`` holds NaN or inf (``where`` names it in the messages); empty if none."""
    problems: list[str] = []
    _visit(value, where, problems, depth=0)
    return problems[:MAX_REPORTED]


def _visit(value: Any, where: str, problems: list[str], depth: int) -> None:
    if len(problems) >= MAX_REPORTED or depth > 20:
        return
    module = type(value).__module__
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            problems.append(f"{where} is {value}")
        return
    if module.startswith("polars"):
        _polars(value, where, problems)
    elif module.startswith("pyarrow"):
        import polars as pl

        _polars(pl.from_arrow(value), where, problems)
    elif module.startswith("pandas"):
        _pandas(value, where, problems)
    elif module.startswith("numpy"):
        _numpy(value, where, problems)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _visit(item, f"{where}[{key!r}]", problems, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _visit(item, f"{where}[{i}]", problems, depth + 1)
    elif hasattr(value, "to_dict") and callable(value.to_dict):  # dataclass-like results
        try:
            as_dict = value.to_dict()
        except Exception:  # not ours to judge: a value that cannot describe itself
            return
        if isinstance(as_dict, Mapping):
            _visit(as_dict, where, problems, depth + 1)


def _polars(frame: Any, where: str, problems: list[str]) -> None:
    import polars as pl

    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    floats = [c for c, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    if not floats:
        return
    row = frame.select(
        *[pl.col(c).is_nan().sum().alias(f"{c}\0nan") for c in floats],
        *[pl.col(c).is_infinite().sum().alias(f"{c}\0inf") for c in floats],
    ).row(0, named=True)
    for key, count in row.items():
        if count:
            column, kind = key.split("\0")
            problems.append(f"{where}: column {column!r} holds {count} {kind.upper()} value(s)")


def _pandas(frame: Any, where: str, problems: list[str]) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        return
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f":
            count = int(np.isinf(values.to_numpy()).sum())
            if count:
                problems.append(f"{where}: column {column!r} holds {count} INF value(s)")


def _numpy(value: Any, where: str, problems: list[str]) -> None:
    import numpy as np

    arr = np.asarray(value)
    if arr.dtype.kind not in "fc":
        return
    nan, inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
    if nan or inf:
        problems.append(f"{where} holds {nan} NaN and {inf} INF value(s)")


def non_finite_in_metrics(metrics: Iterable[Metric], where: str) -> list[str]:
    """Metric values that are NaN or inf (key, step, value)."""
    return [
        f"{where}: metric {m.key!r} at step {m.step} is {m.value}"
        for m in metrics
        if m.value is None or not math.isfinite(float(m.value))
    ][:MAX_REPORTED]
