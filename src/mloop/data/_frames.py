"""Every kind of tabular input as a stream of Polars DataFrame batches of bounded bytes.

The only module of :mod:`mloop.data` that knows pandas, Arrow and files. Batches are sized by
their bytes (:func:`batch_bytes_for`: 1/16 of the input, 8-32 MiB; CSV in 8 MiB blocks of
text), not by a fixed row count, so that narrow and wide, small and large inputs alike are
profiled in bounded memory:

- in-memory frames are cut into zero-copy slices;
- Parquet files are read one slice at a time (``scan_parquet(...).slice(offset, rows)``),
  sequentially and without read-ahead. The streaming engine's ``collect_batches`` reads ahead:
  merely streaming a 500k x 30 file (101 MB in memory) peaked at 235 MB RSS whatever the
  chunk size, and a 5M-row file written as one row group at 2.2 GB (2.1x its data);
- CSV files are parsed one block of whole records at a time (:mod:`mloop.data._csv`);
- lazy queries stream through Polars' engine (``collect_batches``).

Each batch's rows are chosen from the bytes per row of the batch before it (of a small first
batch for files), so the size adapts to the data without a separate sampling pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mloop.data._csv import INFER_SCHEMA_ROWS, iter_csv_blocks, scan_csv
from mloop.errors import ValidationError

__all__ = [
    "BATCHES_PER_INPUT",
    "DEFAULT_BATCH_BYTES",
    "FIRST_BATCH_ROWS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ROWS",
    "MIN_BATCH_ROWS",
    "batch_bytes_for",
    "describe",
    "iter_batches",
    "rows_for_bytes",
    "to_polars",
]

# Bytes per batch in memory: a sixteenth of the input, at least 8 MiB and at most 32 MiB (see
# batch_bytes_for); CSV is read in blocks of 8 MiB of text. The peak memory of
# compute_statistics is a fixed ~40 MB of Polars' own (thread pools, allocator arenas) above
# the idle interpreter, plus a few
# batches' worth (one being read, one summarised, one feeding sketches, the query's
# intermediates, and freed pages the allocator keeps for about 0.5 s), so the cap bounds it
# (about 300 MB at 32 MiB) while the floor keeps per-batch costs (one query, one merge, and
# for Parquet one fetch of the row group's column chunks per slice) small against the work.
# Measured on 500k rows x 30 columns (101 MB in memory), medians of 7: 4 MiB batches peak at
# 139 MB but take 12 % longer, 8 MiB at 165 MB, 16 MiB at 200 MB; fixed 250k-row batches (50
# MB) peaked at 303 MB. On 5M rows (1,014 MB): 8 MiB took 5.9 s, 16 MiB 4.8 s, 32 MiB 4.6 s
# (peak 293 MB): 32 MiB batches hold a peak of about 0.3 GB whatever the input's size. See
# docs/data-validation.md, "Performance".
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024
BATCHES_PER_INPUT = 16
FIRST_BATCH_ROWS = 4096  # rows of a file's first batch, which measures its bytes per row
MIN_BATCH_ROWS = 1024  # per-batch overhead (one query, one merge) dominates below this
MAX_BATCH_ROWS = 1_000_000  # even very narrow data is cut, so sketches stay in step
_PARQUET = {".parquet", ".pq", ".parq"}
_CSV = {".csv", ".tsv", ".txt"}


def describe(data: Any) -> str:
    """A short name for ``data`` in error messages: a path or a type name."""
    if isinstance(data, (str, Path)):
        return str(data)
    return f"{type(data).__module__}.{type(data).__qualname__}"


def batch_bytes_for(total_bytes: float) -> int:
    """Bytes per batch for an input of ``total_bytes``: 1/:data:`BATCHES_PER_INPUT` of it,
    between :data:`DEFAULT_BATCH_BYTES` and :data:`MAX_BATCH_BYTES`."""
    share = int(total_bytes / BATCHES_PER_INPUT)
    return min(max(share, DEFAULT_BATCH_BYTES), MAX_BATCH_BYTES)


def rows_for_bytes(frame: Any, batch_bytes: int = DEFAULT_BATCH_BYTES) -> int:
    """Rows of a batch of about ``batch_bytes`` bytes, from ``frame``'s bytes per row (Polars'
    ``estimated_size``), between :data:`MIN_BATCH_ROWS` and :data:`MAX_BATCH_ROWS`."""
    if frame.height == 0:
        return MAX_BATCH_ROWS
    per_row = max(frame.estimated_size() / frame.height, 1.0)
    return int(min(max(batch_bytes / per_row, MIN_BATCH_ROWS), MAX_BATCH_ROWS))


def _parquet_files(path: Path) -> list[Path]:
    if not path.exists():
        raise ValidationError(f"data file {path} does not exist; give a Parquet or CSV path")
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise ValidationError(f"folder {path} holds no *.parquet files; give a file or folder")
        return files
    return [path] if path.suffix.lower() in _PARQUET else []


def _lazy_from_path(path: Path) -> Any:
    import polars as pl

    files = _parquet_files(path)
    if files:
        return pl.scan_parquet(files)
    suffix = path.suffix.lower()
    if suffix in _CSV:
        return scan_csv(path)
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


def iter_batches(
    data: Any,
    batch_rows: int | None = None,
    *,
    batch_bytes: int | None = None,
    infer_schema_length: int | None = INFER_SCHEMA_ROWS,
    schema_overrides: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Yield ``data`` as Polars DataFrames of about ``batch_bytes`` in-memory bytes each (None:
    :func:`batch_bytes_for` the input's size for frames and Parquet, else
    :data:`DEFAULT_BATCH_BYTES`, of text for CSV), or of at most ``batch_rows`` rows when that
    is given (at least one batch, maybe empty, so that an empty input still has a schema).
    Drop each batch before asking for the next one: the generator keeps no reference, so only
    one batch need be alive. A CSV file's column types are inferred from its first
    ``infer_schema_length`` rows (0: all) unless ``schema_overrides`` gives them."""
    import polars as pl

    if batch_rows is not None and batch_rows < 1:
        raise ValidationError(f"batch_rows must be >= 1, got {batch_rows}")
    if batch_bytes is not None and batch_bytes < 1:
        raise ValidationError(f"batch_bytes must be >= 1, got {batch_bytes}")
    files = _parquet_files(Path(data)) if isinstance(data, (str, Path)) else []
    if files:
        yield from _parquet_batches(data, files, batch_rows, batch_bytes)
        return
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() in _CSV:
        # text blocks stay at the floor: larger ones made no difference to the time (a 686 MB
        # CSV: 4.6-5.1 s at 8, 16 or 32 MiB) but raised the peak (154 -> 270 MB)
        for block in iter_csv_blocks(
            Path(data),
            batch_bytes or DEFAULT_BATCH_BYTES,
            infer_schema_length=infer_schema_length,
            schema_overrides=schema_overrides,
        ):
            if batch_rows and block.height > batch_rows:
                yield from block.iter_slices(batch_rows)
            else:
                yield block
            del block
        return
    frame = to_polars(data)
    if isinstance(frame, pl.DataFrame):
        if frame.height == 0:
            yield frame
            return
        size = frame.estimated_size()
        rows = batch_rows or rows_for_bytes(frame, batch_bytes or batch_bytes_for(size))
        yield from frame.iter_slices(rows)
        return
    yield from _streamed_batches(data, frame, batch_rows, batch_bytes or DEFAULT_BATCH_BYTES)


def _streamed_batches(
    data: Any, frame: Any, batch_rows: int | None, batch_bytes: int
) -> Iterator[Any]:
    """A lazy query (a user's LazyFrame) through Polars' streaming engine. Its batches' rows
    are fixed for the whole stream: from ``batch_rows``, else from the bytes per row of the
    query's first :data:`FIRST_BATCH_ROWS` rows."""
    import polars as pl

    yielded = False
    try:
        if batch_rows is None:
            batch_rows = rows_for_bytes(frame.head(FIRST_BATCH_ROWS).collect(), batch_bytes)
        for batch in frame.collect_batches(chunk_size=batch_rows):
            if batch.height or not yielded:
                yielded = True
                yield batch
            del batch
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise ValidationError(f"cannot read {describe(data)}: {exc}") from exc
    if not yielded:
        yield frame.head(0).collect()


def _parquet_batches(
    data: Any,
    files: list[Path],
    batch_rows: int | None,
    batch_bytes: int | None,
) -> Iterator[Any]:
    """Parquet files one slice at a time, each slice read only when the one before it is done.
    Polars decodes only the pages a slice needs, but fetches its row group's column chunks
    whole: a file written as one huge row group costs its compressed size per slice (in time
    and memory), where common writers' row groups (64-128 MB, or 100k-1M rows) cost little."""
    import polars as pl

    try:
        frame = pl.scan_parquet(files)
        total = int(frame.select(pl.len()).collect().item())  # from the footers: no data read
        rows = batch_rows or FIRST_BATCH_ROWS
        budget = batch_bytes
        offset = 0
        while offset < total:
            batch = frame.slice(offset, rows).collect()
            if batch.height == 0:  # pragma: no cover - the footers promised more rows
                break
            offset += batch.height
            if batch_rows is None:
                if budget is None:  # the first batch gives the bytes per row, so the total
                    total_bytes = batch.estimated_size() / max(batch.height, 1) * total
                    budget = batch_bytes_for(total_bytes)
                rows = rows_for_bytes(batch, budget)
            yield batch
            del batch
        if offset == 0:
            yield frame.head(0).collect()
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise ValidationError(f"cannot read {describe(data)}: {exc}") from exc
