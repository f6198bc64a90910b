"""A CSV file as Polars DataFrames, one block of whole records at a time, in bounded memory.

Polars' streaming CSV reader (``scan_csv(...).collect_batches()``) parses ahead of its consumer:
streaming a 687 MB CSV (2M rows x 30 columns, 405 MB in memory) held 334 MB of anonymous
memory however small the batches. Here the file is read in blocks of about ``block_bytes``
bytes, each cut after its last complete record and parsed by ``pl.read_csv`` with the schema
that ``scan_csv`` infers from the file's head, so every block has the same column types and
at most two blocks are alive at a time (one parsed ahead).

A record ends at a newline outside quotes. With RFC 4180 quoting (a quote inside a quoted
field is doubled) a newline is outside quotes exactly when an even number of quote characters
precedes it since the block's start, which is always the start of a record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mloop.errors import ValidationError

__all__ = [
    "DTYPE_NAMES",
    "INFER_SCHEMA_ROWS",
    "iter_csv_blocks",
    "parse_dtypes",
    "record_end",
    "scan_csv",
]

INFER_SCHEMA_ROWS = 10_000  # rows of the file's head from which column types are inferred
DTYPE_NAMES = ("str", "int", "float", "bool", "date", "datetime")
"""Column types a user may name for a CSV column (``--dtype COL=TYPE``)."""
_POLARS_ERROR = re.compile(
    r"could not parse `(?P<value>.*?)` as dtype `(?P<dtype>[^`]*)` at column '(?P<column>.*?)'"
)
_NEWLINE = ord("\n")
_QUOTE = ord('"')


def scan_csv(
    path: Path,
    *,
    infer_schema_length: int | None = INFER_SCHEMA_ROWS,
    schema_overrides: Mapping[str, Any] | None = None,
) -> Any:
    """The file as a Polars LazyFrame (``.tsv`` tab-separated, else comma-separated).

    Column types are inferred from the first ``infer_schema_length`` rows (0 or None: from
    every row, which reads the file twice); ``schema_overrides`` fixes some columns' types
    (a Polars dtype or one of :data:`DTYPE_NAMES`)."""
    import polars as pl

    return pl.scan_csv(
        path,
        separator=_separator(path),
        try_parse_dates=True,
        infer_schema_length=infer_schema_length or None,
        schema_overrides=parse_dtypes(schema_overrides) or None,
    )


def parse_dtypes(dtypes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Column name -> Polars dtype, from Polars dtypes or the names in :data:`DTYPE_NAMES`."""
    import polars as pl

    named = {
        "str": pl.String,
        "string": pl.String,
        "int": pl.Int64,
        "float": pl.Float64,
        "bool": pl.Boolean,
        "date": pl.Date,
        "datetime": pl.Datetime("us"),
    }
    out: dict[str, Any] = {}
    for column, dtype in (dtypes or {}).items():
        if isinstance(dtype, str):
            if dtype.lower() not in named:
                raise ValidationError(
                    f"unknown type {dtype!r} for CSV column {column!r}; use one of "
                    f"{', '.join(DTYPE_NAMES)}"
                )
            dtype = named[dtype.lower()]
        out[column] = dtype
    return out


def _separator(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def record_end(block: bytes, *, first: bool = False, quoted: bool = False) -> int:
    """Index just past the last (or ``first``) newline of ``block`` that ends a record (is
    outside quotes), or 0 when ``block`` holds no complete record. ``block`` starts at a
    record's start, or inside a quoted field when ``quoted``."""
    end = block.find(b"\n") if first else block.rfind(b"\n")
    if end < 0:
        return 0
    if not quoted and block.find(b'"', 0, end) < 0:  # the usual case, at memchr speed
        return end + 1
    if (block.count(b'"', 0, end) + quoted) % 2 == 0:
        return end + 1
    raw = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(raw == _NEWLINE)
    quotes = np.flatnonzero(raw == _QUOTE)
    newlines = newlines[(np.searchsorted(quotes, newlines) + quoted) % 2 == 0]
    if not len(newlines):
        return 0
    return int(newlines[0 if first else -1]) + 1


def iter_csv_blocks(
    path: Path,
    block_bytes: int,
    *,
    infer_schema_length: int | None = INFER_SCHEMA_ROWS,
    schema_overrides: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Yield the file's records as DataFrames parsed from blocks of about ``block_bytes`` bytes
    of text (a longer record makes a longer block); at least one, maybe empty, DataFrame.
    Column types come from :func:`scan_csv` (``infer_schema_length``, ``schema_overrides``);
    a later value that does not fit its column's type raises ``ValidationError`` naming the
    line, the column and the value, and how to read the file instead.

    The next block is read and parsed on a second thread (Polars releases the GIL) while the
    caller works on this one, as Polars' streaming reader would, but never more than one
    ahead."""
    import polars as pl

    reading = CsvReading(path, infer_schema_length, schema_overrides)
    try:
        schema = scan_csv(
            path, infer_schema_length=infer_schema_length, schema_overrides=schema_overrides
        ).collect_schema()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc
    yielded = False
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="mloop-csv") as reader,
        path.open("rb") as file,
    ):
        blocks = _record_blocks(file, block_bytes)

        def read_next() -> Any:
            block = next(blocks, None)
            return None if block is None else _parse(reading, *block, schema)

        ahead = reader.submit(read_next)
        while (batch := ahead.result()) is not None:
            ahead = reader.submit(read_next)
            if batch.height or not yielded:
                yielded = True
                yield batch
            del batch
    if not yielded:
        yield pl.DataFrame(schema=schema)


class CsvReading:
    """How a CSV file is being read: what an error message needs to give a remedy."""

    def __init__(
        self,
        path: Path,
        infer_schema_length: int | None,
        schema_overrides: Mapping[str, Any] | None,
    ) -> None:
        self.path = path
        self.infer_schema_length = infer_schema_length
        self.schema_overrides = dict(schema_overrides or {})


def _record_blocks(file: Any, block_bytes: int) -> Iterator[tuple[int, bytes]]:
    """The text after the header record, in blocks of whole records (one copy of each byte
    beyond the read itself), each with the file offset (bytes) where it starts."""
    carry = b""
    while not (end := record_end(carry, first=True)):  # the header record
        more = file.read(block_bytes)
        if not more:
            return
        carry += more
    start = end
    carry = carry[end:]
    while more := file.read(block_bytes):
        end = record_end(more, quoted=carry.count(b'"') % 2 == 1)
        if not end:  # a record longer than the block
            carry += more
            continue
        block = b"".join((carry, memoryview(more)[:end])) if carry else more[:end]
        yield start, block
        start += len(block)
        carry = more[end:]
    if carry:
        yield start, carry


def _parse(reading: CsvReading, offset: int, text: bytes, schema: Any) -> Any:
    import polars as pl

    if not text.strip():
        return pl.DataFrame(schema=schema)
    try:
        return pl.read_csv(
            text, has_header=False, schema=schema, separator=_separator(reading.path)
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError) as exc:
        raise ValidationError(_type_error_message(reading, offset, text, schema, exc)) from exc


def _type_error_message(
    reading: CsvReading, offset: int, text: bytes, schema: Any, exc: Exception
) -> str:
    """``PATH, line L, column 'C': value 'V' does not fit the type ... ; remedy``: the line is
    1-based in the file (the header is line 1), found by re-reading the failed block as text."""
    found = _locate(reading.path, offset, text, schema, exc)
    rows = reading.infer_schema_length
    inferred = f"the first {rows:,} rows" if rows else "every row"
    if found is None:
        head = f"cannot read {reading.path}: {str(exc).splitlines()[0]}"
        column = "COLUMN"
    else:
        line, column, value, dtype = found
        head = (
            f"{reading.path}, line {line:,}, column {column!r}: value {value!r} is not "
            f"{_dtype_words(dtype)}"
        )
    return (
        f"{head}; CSV column types are inferred from {inferred}, which held only such values. "
        "Infer from more rows (--infer-rows N, 0 = all; infer_schema_length=N) or give the "
        f"column's type (--dtype {column}=str; schema_overrides={{{column!r}: 'str'}})"
    )


def _dtype_words(dtype: Any) -> str:
    text = str(dtype)
    if dtype.is_integer():
        return f"an integer (the column was read as {text})"
    if dtype.is_float():
        return f"a number (the column was read as {text})"
    return f"of the column's type {text}"


def _locate(
    path: Path, offset: int, text: bytes, schema: Any, exc: Exception
) -> tuple[int, str, str, Any] | None:
    """(line, column, value, dtype) of the first value of the block that does not parse as its
    column's type, or None when it cannot be told."""
    import polars as pl

    as_text = pl.read_csv(
        text,
        has_header=False,
        schema=dict.fromkeys(schema.names(), pl.String),
        separator=_separator(path),
    )
    match = _POLARS_ERROR.search(str(exc))
    candidates: list[tuple[int, str, str, Any]] = []
    columns = [match["column"]] if match and match["column"] in schema else list(schema.names())
    for column in columns:
        dtype = schema[column]
        if dtype == pl.String:
            continue
        raw = as_text.get_column(column)
        if match and column == match["column"]:
            bad = raw == match["value"]
        else:
            bad = raw.is_not_null() & raw.cast(dtype, strict=False).is_null()
        hits = bad.arg_true()
        if len(hits):
            row = int(hits[0])
            candidates.append((row, column, str(raw[row]), dtype))
    if not candidates:
        return None
    row, column, value, dtype = min(candidates, key=lambda c: c[0])
    return _line_of(path, offset, text, row), column, value, dtype


def _line_of(path: Path, offset: int, text: bytes, row: int) -> int:
    """The 1-based line of the file where the block's ``row``-th record (0-based) starts."""
    raw = np.frombuffer(text, dtype=np.uint8)
    newlines = np.flatnonzero(raw == _NEWLINE)
    quotes = np.flatnonzero(raw == _QUOTE)
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0]  # newlines outside quotes
    start = 0 if row == 0 else int(ends[row - 1]) + 1
    before = 0
    with path.open("rb") as file:  # the error path only: count the lines before the block
        remaining = offset
        while remaining > 0 and (chunk := file.read(min(remaining, 1 << 24))):
            before += chunk.count(b"\n")
            remaining -= len(chunk)
    return before + text.count(b"\n", 0, start) + 1
