"""Every kind of tabular input as a stream of Polars DataFrame batches.

The only module of :mod:`mloop.data` that knows pandas, Arrow and files. In-memory frames are
cut into zero-copy slices; Parquet and CSV files are scanned lazily and read one batch at a
time through Polars' streaming engine, so a file larger than memory is profiled in bounded
memory (about one batch of rows, ``batch_rows``, at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mloop.errors import ValidationError

__all__ = ["DEFAULT_BATCH_ROWS", "describe", "iter_batches", "to_polars"]

DEFAULT_BATCH_ROWS = 250_000  # rows per batch: bounds memory (about 0.7x of 5M rows x 30 columns)
_PARQUET = {".parquet", ".pq", ".parq"}
_CSV = {".csv", ".tsv", ".txt"}


def describe(data: Any) -> str:
    """A short name for ``data`` in error messages: a path or a type name."""
    if isinstance(data, (str, Path)):
        return str(data)
    return f"{type(data).__module__}.{type(data).__qualname__}"


def _lazy_from_path(path: Path) -> Any:
    import polars as pl

    if not path.exists():
        raise ValidationError(f"data file {path} does not exist; give a Parquet or CSV path")
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise ValidationError(f"folder {path} holds no *.parquet files; give a file or folder")
        return pl.scan_parquet(files)
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        return pl.scan_parquet(path)
    if suffix in _CSV:
        separator = "\t" if suffix == ".tsv" else ","
        return pl.scan_csv(
            path, separator=separator, try_parse_dates=True, infer_schema_length=10_000
        )
    raise ValidationError(
        f"cannot read {path}: unknown suffix {suffix!r}; use .parquet or .csv (or pass a frame)"
    )


def to_polars(data: Any) -> Any:
    """``data`` as a Polars DataFrame or LazyFrame (lazily for files, zero-copy where possible)."""
    import polars as pl

    if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
        return data
    if isinstance(data, (str, Path)):
        return _lazy_from_path(Path(data))
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.Series):
            data = data.to_frame()
        if isinstance(data, pd.DataFrame):
            return pl.from_pandas(data)
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return pl.from_arrow(data)
    if isinstance(data, pl.Series):
        return data.to_frame()
    raise ValidationError(
        f"cannot compute statistics of {describe(data)}; pass a pandas or Polars DataFrame, a "
        "Polars LazyFrame, an Arrow Table, or a Parquet/CSV path"
    )


def iter_batches(data: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Any]:
    """Yield ``data`` as Polars DataFrames of at most ``batch_rows`` rows (at least one, maybe
    empty, so an empty input still has a schema)."""
    import polars as pl

    if batch_rows < 1:
        raise ValidationError(f"batch_rows must be >= 1, got {batch_rows}")
    frame = to_polars(data)
    if isinstance(frame, pl.DataFrame):
        if frame.height == 0:
            yield frame
            return
        yield from frame.iter_slices(batch_rows)
        return
    yielded = False
    try:
        for batch in frame.collect_batches(chunk_size=batch_rows):
            if batch.height or not yielded:
                yielded = True
                yield batch
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise ValidationError(f"cannot read {describe(data)}: {exc}") from exc
    if not yielded:
        yield frame.head(0).collect()
