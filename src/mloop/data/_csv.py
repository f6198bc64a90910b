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

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mloop.errors import ValidationError

__all__ = ["INFER_SCHEMA_ROWS", "iter_csv_blocks", "record_end", "scan_csv"]

INFER_SCHEMA_ROWS = 10_000  # rows of the file's head from which column types are inferred
_NEWLINE = ord("\n")
_QUOTE = ord('"')


def scan_csv(path: Path) -> Any:
    """The file as a Polars LazyFrame (``.tsv`` tab-separated, else comma-separated)."""
    import polars as pl

    return pl.scan_csv(
        path,
        separator=_separator(path),
        try_parse_dates=True,
        infer_schema_length=INFER_SCHEMA_ROWS,
    )


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


def iter_csv_blocks(path: Path, block_bytes: int) -> Iterator[Any]:
    """Yield the file's records as DataFrames parsed from blocks of about ``block_bytes`` bytes
    of text (a longer record makes a longer block); at least one, maybe empty, DataFrame.

    The next block is read and parsed on a second thread (Polars releases the GIL) while the
    caller works on this one, as Polars' streaming reader would, but never more than one
    ahead."""
    import polars as pl

    try:
        schema = scan_csv(path).collect_schema()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc
    yielded = False
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="mloop-csv") as reader,
        path.open("rb") as file,
    ):
        blocks = _record_blocks(file, block_bytes)

        def read_next() -> Any:
            text = next(blocks, None)
            return None if text is None else _parse(path, text, schema)

        ahead = reader.submit(read_next)
        while (batch := ahead.result()) is not None:
            ahead = reader.submit(read_next)
            if batch.height or not yielded:
                yielded = True
                yield batch
            del batch
    if not yielded:
        yield pl.DataFrame(schema=schema)


def _record_blocks(file: Any, block_bytes: int) -> Iterator[bytes]:
    """The text after the header record, in blocks of whole records (one copy of each byte
    beyond the read itself)."""
    carry = b""
    while not (end := record_end(carry, first=True)):  # the header record
        more = file.read(block_bytes)
        if not more:
            return
        carry += more
    carry = carry[end:]
    while more := file.read(block_bytes):
        end = record_end(more, quoted=carry.count(b'"') % 2 == 1)
        if not end:  # a record longer than the block
            carry += more
            continue
        yield b"".join((carry, memoryview(more)[:end])) if carry else more[:end]
        carry = more[end:]
    if carry:
        yield carry


def _parse(path: Path, text: bytes, schema: Any) -> Any:
    import polars as pl

    if not text.strip():
        return pl.DataFrame(schema=schema)
    try:
        return pl.read_csv(text, has_header=False, schema=schema, separator=_separator(path))
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError) as exc:
        raise ValidationError(
            f"cannot read {path}: {exc}; column types are inferred from the first "
            f"{INFER_SCHEMA_ROWS} rows, so a column whose later values do not fit them needs "
            "cleaning (or read the file yourself and pass a frame)"
        ) from exc
