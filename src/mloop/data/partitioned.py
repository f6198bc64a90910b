"""Statistics of a dataset stored as many Parquet files, one partition at a time.

A partition is one Parquet file. Each is summarised on its own (possibly on another machine:
the map function is the caller's, e.g. Ray tasks in ``mloop.components.statistics_ray``) and
the summaries are merged with :meth:`Statistics.merge`, in partition order. The result is
exactly the merge of the parts, and equals the statistics of the whole (one pass over all
rows) exactly for counts, nulls, min, max and frequencies, to floating-point rounding for the
moments, and within the sketches' stated error for quantiles and distinct counts.

Pure computation: no Ray here. Summaries travel as JSON (``Statistics.to_json``), which holds
the sketches, so they cross process and machine boundaries.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mloop.data.statistics import MAX_VALUES, compute_statistics
from mloop.data.types import Statistics
from mloop.errors import ValidationError

__all__ = [
    "compute_partitioned_statistics",
    "merge_partitions",
    "parquet_partitions",
    "partition_statistics_json",
]

Mapper = Callable[[Callable[[str], str], Sequence[str]], Iterable[str]]


def parquet_partitions(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The partitions of ``source``: a Parquet file, a folder (its ``*.parquet`` files, at any
    depth, hive-style ``key=value`` folders included), a glob, or a list of files; sorted by
    path so that the merge order (and so the result) never depends on listing order."""
    if isinstance(source, (list, tuple)):
        paths = [str(Path(p)) for p in source]
    else:
        text = str(source)
        if any(ch in text for ch in "*?["):
            paths = glob.glob(text, recursive=True)
        elif Path(text).is_dir():
            paths = [str(p) for p in Path(text).rglob("*.parquet") if p.is_file()]
        elif Path(text).is_file():
            paths = [text]
        else:
            raise ValidationError(
                f"{text} does not exist; give a Parquet file, a folder of them or a glob"
            )
    paths = sorted(p for p in paths if not Path(p).name.startswith((".", "_")))
    if not paths:
        raise ValidationError(f"no Parquet files in {source}; nothing to compute statistics of")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ValidationError(f"partition {missing[0]} does not exist")
    return paths


def partition_statistics_json(
    path: str, slice_by: str | None = None, max_values: int = MAX_VALUES
) -> str:
    """The statistics of one partition as JSON (what a worker sends back)."""
    return compute_statistics(path, slice_by, max_values=max_values).to_json()


def merge_partitions(parts: Iterable[Statistics]) -> Statistics:
    """``parts[0].merge(parts[1]).merge(...)``: the statistics of all their rows."""
    total: Statistics | None = None
    for part in parts:
        total = part if total is None else total.merge(part)
    if total is None:
        raise ValidationError("no partitions to merge")
    return total


def compute_partitioned_statistics(
    source: str | Path | Sequence[str | Path],
    slice_by: str | None = None,
    *,
    max_values: int = MAX_VALUES,
    mapper: Mapper | None = None,
) -> Statistics:
    """Statistics of every partition of ``source``, merged. ``mapper(fn, paths)`` applies
    ``fn`` (path -> JSON) to every path and returns the results in the same order; the default
    is the built-in ``map``, in this process."""
    paths = parquet_partitions(source)

    def one(path: str) -> str:
        return partition_statistics_json(path, slice_by, max_values)

    results: Iterable[Any] = (mapper or map)(one, paths)
    return merge_partitions(Statistics.from_json(text) for text in results)
