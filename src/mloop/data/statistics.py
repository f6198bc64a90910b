"""``compute_statistics``: one pass over a dataset, batch by batch, into mergeable Statistics.

Each batch is summarised by one multi-threaded Polars query (counts, nulls, moments, min, max,
zeros, frequencies, string lengths, datetime ranges, distinct-count hash keys) plus a KLL
quantile sketch fed from the column's values; batch summaries are then merged with
:meth:`Statistics.merge`. The same merge makes profiles of windows and partitions combine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mloop.data._csv import INFER_SCHEMA_ROWS
from mloop.data._frames import iter_batches
from mloop.data.sketches import DistinctSketch
from mloop.data.types import (
    CATEGORICAL,
    DATETIME,
    NUMERIC,
    OTHER,
    CategoricalSummary,
    DatetimeSummary,
    FeatureStatistics,
    NumericSummary,
    Statistics,
)
from mloop.errors import ValidationError

__all__ = ["MAX_SLICES", "MAX_VALUES", "column_kind", "compute_statistics"]

MAX_VALUES = 1000  # distinct values whose frequencies are kept per column (then: top values)
MAX_SLICES = 1000  # distinct values of slice_by before statistics refuse to slice


def column_kind(dtype: Any) -> str:
    """``numeric``, ``categorical`` (strings, categoricals, enums, booleans), ``datetime``
    (dates and datetimes) or ``other`` for a Polars dtype."""
    import polars as pl

    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return CATEGORICAL
    if dtype.is_numeric():
        return NUMERIC
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return DATETIME
    return OTHER


def compute_statistics(
    data: Any,
    slice_by: str | None = None,
    *,
    max_values: int = MAX_VALUES,
    batch_rows: int | None = None,
    infer_schema_length: int | None = INFER_SCHEMA_ROWS,
    schema_overrides: Mapping[str, Any] | None = None,
) -> Statistics:
    """Statistics of ``data``: a pandas or Polars DataFrame, a Polars LazyFrame, an Arrow Table,
    or a Parquet/CSV path (read batch by batch, so it may exceed memory).

    Batches hold about a sixteenth of the data, at least 8 MiB and at most 32 MiB
    (:func:`~mloop.data._frames.batch_bytes_for`; CSV: 8 MiB blocks of text), or
    ``batch_rows`` rows when that is given;
    the result does not depend on the batch size beyond the sketches' stated error and
    floating-point rounding of the moments.

    ``slice_by`` names a column: statistics are also computed per value of it (at most
    :data:`MAX_SLICES` values), keyed ``"column=value"`` in :attr:`Statistics.slices`.
    ``max_values`` bounds the frequencies kept per column.

    A CSV file's column types are inferred from its first ``infer_schema_length`` rows (0 or
    None: all of them); ``schema_overrides`` gives some columns' types instead (column ->
    Polars dtype or ``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"date"``,
    ``"datetime"``). A later value that does not fit raises ``ValidationError`` naming its
    line, column and value.
    """
    if max_values < 1:
        raise ValidationError(f"max_values must be >= 1, got {max_values}")
    if infer_schema_length is not None and infer_schema_length < 0:
        raise ValidationError(f"infer_schema_length must be >= 0, got {infer_schema_length}")
    csv = {"infer_schema_length": infer_schema_length, "schema_overrides": schema_overrides}
    total = _one_pass(data, slice_by, max_values, batch_rows, csv)
    if slice_by is not None and len(total.slices) > MAX_SLICES:
        raise ValidationError(
            f"slice_by={slice_by!r} has {len(total.slices)} values, more than {MAX_SLICES}; "
            "slice by a column with fewer distinct values (bucket it first)"
        )
    return total


def _one_pass(
    data: Any,
    slice_by: str | None,
    max_values: int,
    batch_rows: int | None,
    csv: dict[str, Any],
) -> Statistics:
    """Statistics of ``data``, read once, batch by batch."""
    total: Statistics | None = None
    # Quantile sketches are fed on a second thread while Polars (which releases the GIL)
    # summarises the next batch; at most two batches are in flight, bounding memory.
    in_flight: deque[Future[Statistics]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mloop-sketch") as sketcher:
        for batch in iter_batches(data, batch_rows, **csv):
            pending = _summarise(batch, max_values)
            if slice_by is not None:
                slices = _slice_statistics(batch, slice_by, max_values)
                pending.statistics.slice_by, pending.statistics.slices = slice_by, slices
            del batch  # the next batch is read while this one's sketches are fed: not both whole
            in_flight.append(sketcher.submit(pending.finish))
            while len(in_flight) > 1:
                part = in_flight.popleft().result()
                total = part if total is None else total.merge(part)
        while in_flight:
            part = in_flight.popleft().result()
            total = part if total is None else total.merge(part)
    assert total is not None  # iter_batches yields at least one batch
    return total


def _slice_statistics(batch: Any, column: str, max_values: int) -> dict[str, Statistics]:
    if column not in batch.columns:
        raise ValidationError(
            f"slice_by={column!r} is not a column; columns: {sorted(batch.columns)}"
        )
    parts = batch.partition_by(column, as_dict=True, include_key=True)
    if len(parts) > MAX_SLICES:
        raise ValidationError(
            f"slice_by={column!r} has more than {MAX_SLICES} values; slice by a coarser column"
        )
    return {
        f"{column}={_slice_label(key[0])}": _summarise(frame, max_values).finish()
        for key, frame in parts.items()
    }


def _slice_label(value: Any) -> str:
    """A slice value as text: booleans as ``true``/``false`` (as in frequencies)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _PendingBatch:
    """A batch summarised by Polars, waiting for its sketches (see :meth:`finish`)."""

    statistics: Statistics
    numeric: dict[str, Any] = field(default_factory=dict)  # column -> Series of its values
    hll_keys: dict[str, Any] = field(default_factory=dict)  # column -> Series of HLL keys

    def finish(self) -> Statistics:
        for name, series in self.numeric.items():
            values = (
                series.filter(series.is_finite())
                if series.dtype.is_float()
                else series.drop_nulls()
            )
            summary = self.statistics.features[name].numeric
            assert summary is not None
            summary.sketch.update(values.cast(float).to_numpy())
        for name, keys in self.hll_keys.items():
            self.statistics.features[name].distinct_sketch.update_from_keys(keys.to_numpy())
        self.numeric.clear()
        self.hll_keys.clear()
        return self.statistics


def _summarise(batch: Any, max_values: int) -> _PendingBatch:
    """One Polars query over the batch; what Python must still do is left in the result."""
    import polars as pl

    kinds = {name: column_kind(dtype) for name, dtype in batch.schema.items()}
    exprs = _query(tuple(batch.schema.items()), max_values)
    row = batch.select(exprs).row(0, named=True) if exprs else {}
    pending = _PendingBatch(Statistics(num_rows=batch.height))
    truncated: list[str] = []
    exact: dict[str, list[str]] = {}
    for name, dtype in batch.schema.items():
        kind = kinds[name]
        feature = FeatureStatistics(
            name=name,
            kind=kind,
            dtype=str(dtype),
            count=batch.height,
            nulls=int(row[f"{name}\x00nulls"]),
        )
        if kind == NUMERIC:
            feature.numeric = _numeric_summary(row, name)
            if feature.numeric.count:
                pending.numeric[name] = batch.get_column(name)
        elif kind == CATEGORICAL:
            feature.categorical = _categorical_summary(row, name, max_values)
            if feature.categorical.exact:  # every value is in the frequencies: sketch those
                exact[name] = list(feature.categorical.frequencies)
            else:
                truncated.append(name)
        elif kind == DATETIME:
            feature.datetime = DatetimeSummary(
                row[f"{name}\x00min"], row[f"{name}\x00max"], getattr(dtype, "time_zone", None)
            )
        pending.statistics.features[name] = feature
    sketches = DistinctSketch.of_value_groups(list(exact.values()))  # one query for all
    for name, sketch in zip(exact, sketches, strict=True):
        pending.statistics.features[name].distinct_sketch = sketch
    if truncated:  # many distinct values: hash every row into the HLL sketch
        keys = batch.select(
            DistinctSketch.keys_expr(_as_strings(pl.col(n), batch.schema[n])).alias(n)
            for n in truncated
        )
        pending.hll_keys = {n: keys.get_column(n) for n in truncated}
    return pending


@lru_cache(maxsize=32)
def _query(schema: tuple[tuple[str, Any], ...], max_values: int) -> list[Any]:
    """The aggregations of a batch with this schema: built once, reused for every batch."""
    exprs: list[Any] = []
    for name, dtype in schema:
        exprs.extend(_aggregations(name, dtype, column_kind(dtype), max_values))
    return exprs


def _as_strings(col: Any, dtype: Any) -> Any:
    """A categorical column's values as the strings its frequencies are keyed by."""
    import polars as pl

    if dtype == pl.Boolean:
        return col.cast(pl.String).str.to_lowercase()
    return col.cast(pl.String)


def _aggregations(name: str, dtype: Any, kind: str, max_values: int) -> list[Any]:
    import polars as pl

    col = pl.col(name)
    key = f"{name}\x00"
    exprs = [col.null_count().alias(key + "nulls"), col.count().alias(key + "present")]
    if kind == OTHER:
        return exprs
    if kind == NUMERIC:
        is_float = dtype.is_float()
        finite = col.filter(col.is_finite()) if is_float else col.drop_nulls()
        if dtype == pl.Boolean:  # pragma: no cover - booleans are categorical
            finite = finite.cast(pl.Int8)
        exprs += [
            finite.len().alias(key + "n"),
            finite.cast(pl.Float64).mean().alias(key + "mean"),
            finite.cast(pl.Float64).var(ddof=0).alias(key + "var"),
            finite.min().cast(pl.Float64).alias(key + "min"),
            finite.max().cast(pl.Float64).alias(key + "max"),
            (col == 0).sum().alias(key + "zeros"),
        ]
        if is_float:
            exprs += [
                col.is_nan().sum().alias(key + "nan"),
                col.is_infinite().sum().alias(key + "inf"),
            ]
    elif kind == CATEGORICAL and dtype == pl.Boolean:  # two values: a sum counts them
        exprs.append(col.sum().alias(key + "true"))
    elif kind == CATEGORICAL:
        values = _as_strings(col.drop_nulls(), dtype)
        # most frequent first, ties by value: which values are kept when the column has more
        # than max_values must not depend on Polars' thread scheduling
        counts = values.value_counts(sort=False, name=key + "count")
        top = counts.sort_by(
            [counts.struct.field(key + "count"), counts.struct.field(name)],
            descending=[True, False],
        ).head(max_values + 1)  # one more: was it cut?
        exprs.append(top.implode().alias(key + "freq"))
        if dtype != pl.Boolean:
            lengths = values.str.len_chars()
            exprs += [
                lengths.min().alias(key + "lmin"),
                lengths.max().alias(key + "lmax"),
                lengths.sum().alias(key + "lsum"),
            ]
    elif kind == DATETIME:  # the physical value of a zoned datetime is UTC already
        as_us = col.cast(pl.Datetime("us")) if dtype == pl.Date else col.dt.cast_time_unit("us")
        exprs += [
            as_us.min().cast(pl.Int64).alias(key + "min"),
            as_us.max().cast(pl.Int64).alias(key + "max"),
        ]
    return exprs


def _numeric_summary(row: dict[str, Any], name: str) -> NumericSummary:
    key = f"{name}\x00"
    n = int(row[key + "n"])
    return NumericSummary(
        count=n,
        mean=float(row[key + "mean"]) if n else 0.0,
        m2=float(row[key + "var"]) * n if n else 0.0,
        min=float(row[key + "min"]) if n else float("inf"),
        max=float(row[key + "max"]) if n else float("-inf"),
        zeros=int(row[key + "zeros"] or 0),
        nan=int(row.get(key + "nan") or 0),
        inf=int(row.get(key + "inf") or 0),
    )


def _categorical_summary(row: dict[str, Any], name: str, max_values: int) -> CategoricalSummary:
    key = f"{name}\x00"
    frequencies: dict[str, int] = {}
    if key + "true" in row:  # a boolean column: counts of true and of false, most first
        true = int(row[key + "true"] or 0)
        counts = {"true": true, "false": int(row[key + "present"]) - true}
        for value, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            if count:
                frequencies[value] = count
    for pair in row.get(key + "freq") or []:
        value, count = pair.values()
        frequencies[str(value)] = int(count)
    summary = CategoricalSummary(
        frequencies=frequencies,
        other_count=0,
        max_values=max_values,
        length_min=row.get(key + "lmin"),
        length_max=row.get(key + "lmax"),
        length_sum=int(row.get(key + "lsum") or 0),
    )
    if len(frequencies) > max_values:  # value_counts was cut: the rest is "other"
        value, count = min(frequencies.items(), key=lambda kv: (kv[1], kv[0]))
        del frequencies[value]
        present = int(row[key + "present"])
        summary.other_count = present - sum(frequencies.values())
        summary.exact = False
    return summary


def as_statistics(data: Any, what: str = "data") -> Statistics:
    """``data`` itself when it is :class:`Statistics`, else its statistics (a pandas or Polars
    frame, a LazyFrame, an Arrow table, or a Parquet/CSV path), computed once here; so
    ``infer_schema``, ``validate`` and ``detect_drift`` take frames as well as statistics."""
    if isinstance(data, Statistics):
        return data
    if data is None or isinstance(data, (int, float, bool, dict, list, tuple)):
        raise ValidationError(
            f"{what} must be Statistics, a DataFrame (pandas, Polars, Arrow) or a Parquet/CSV "
            f"path, got {type(data).__name__}"
        )
    return compute_statistics(data)
