"""The prediction log: every answered request, written off the hot path to Parquet.

A request handler only puts a tuple on a queue (about a microsecond); a writer thread turns
what piled up into Parquet files, one folder per model and hour::

    <log_dir>/predictions/<model>/date=2026-11-24/hour=22/part-<pid>-<ms>-<token>-<n>.parquet

Each row is one predicted row: ``request_id``, ``row`` (its index within the request),
``timestamp`` (UTC), ``model``, ``version``, ``route`` (champion, canary or shadow),
``latency_ms``, the input columns under their own names, ``prediction`` and, when it was
computed, ``prediction_proba``. Files appear every ``flush_interval_s`` seconds or
``flush_rows`` rows, each written to a temporary name and renamed, so monitoring never reads a
half-written file. A file's name holds a random token of its writer: two writers that share a
pid and a millisecond (two logs in one process, two containers that are both pid 1 on a shared
volume) never replace each other's files. :meth:`ParquetLog.close` (called on SIGTERM through
the app's shutdown) writes whatever is queued: an acknowledged prediction is not lost.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mloop.serving.logs.schema import META_COLUMNS, conform

__all__ = ["ParquetLog", "PredictionRecord", "prediction_blocks", "prediction_rows"]

log = logging.getLogger("mloop.serving")
POLL_S = 0.05  # how often the writer looks at its queue (s)


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request, as queued by the handler (no copying, no conversion)."""

    model: str
    version: str
    route: str
    request_id: str
    timestamp: float  # seconds since the epoch (UTC)
    latency_ms: float
    inputs: dict[str, np.ndarray]
    predictions: np.ndarray
    probabilities: np.ndarray | None
    schema: Any = None  # the version's log schema (mloop.serving.logs.schema); None: inferred


def prediction_rows(record: PredictionRecord) -> dict[str, Any]:
    """The record as columns of equal length (one row per predicted row)."""
    n = len(record.predictions)
    columns: dict[str, Any] = {
        "request_id": [record.request_id] * n,
        "row": np.arange(n, dtype=np.int32),
        "timestamp": np.full(n, int(record.timestamp * 1000), dtype="datetime64[ms]"),
        "model": [record.model] * n,
        "version": [record.version] * n,
        "route": [record.route] * n,
        "latency_ms": np.full(n, record.latency_ms, dtype=np.float64),
    }
    for name, values in record.inputs.items():
        columns[f"input.{name}" if name in META_COLUMNS else name] = values
    columns["prediction"] = record.predictions
    if record.probabilities is not None:
        columns["prediction_proba"] = list(np.asarray(record.probabilities, dtype=np.float64))
    return columns


def prediction_blocks(records: list[PredictionRecord]) -> list[tuple[Any, ...]]:
    """Many records as a few blocks of columns (model, timestamp, columns), one per model, hour
    and set of inputs: the same rows as :func:`prediction_rows` gives record by record, built
    with one numpy call per column instead of several per record."""
    groups: dict[tuple[Any, ...], list[PredictionRecord]] = defaultdict(list)
    for r in records:
        key = (
            r.model,
            int(r.timestamp // 3600),
            tuple(r.inputs),
            r.probabilities is not None,
            id(r.schema),
        )
        groups[key].append(r)
    blocks: list[tuple[Any, ...]] = []
    for (model, _, names, with_proba, _), group in groups.items():
        schema = group[0].schema
        try:
            blocks.append((model, group[0].timestamp, _block(group, names, with_proba), schema))
        except Exception:  # an odd record: fall back to one block per record
            log.debug("building a log block failed; writing record by record", exc_info=True)
            blocks.extend((r.model, r.timestamp, prediction_rows(r), r.schema) for r in group)
    return blocks


def _block(group: list[PredictionRecord], names: tuple[str, ...], with_proba: bool) -> Any:
    counts = np.fromiter((len(r.predictions) for r in group), dtype=np.int64, count=len(group))
    single = bool((counts == 1).all())

    def repeat(values: list[Any], dtype: Any = object) -> Any:
        arr = np.asarray(values, dtype=dtype)
        return arr if single else np.repeat(arr, counts)

    total = int(counts.sum())
    if single:
        row = np.zeros(total, dtype=np.int32)
    else:
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        row = (np.arange(total) - starts).astype(np.int32)
    millis = repeat([int(r.timestamp * 1000) for r in group], np.int64)
    columns: dict[str, Any] = {
        "request_id": repeat([r.request_id for r in group]),
        "row": row,
        "timestamp": millis.astype("datetime64[ms]"),
        "model": repeat([r.model for r in group]),
        "version": repeat([r.version for r in group]),
        "route": repeat([r.route for r in group]),
        "latency_ms": repeat([r.latency_ms for r in group], np.float64),
    }
    for name in names:
        key = f"input.{name}" if name in META_COLUMNS else name
        columns[key] = np.concatenate([r.inputs[name] for r in group])
    columns["prediction"] = np.concatenate([r.predictions for r in group])
    if with_proba:
        proba = np.concatenate([np.asarray(r.probabilities, dtype=np.float64) for r in group])
        columns["prediction_proba"] = list(proba)
    return columns


class ParquetLog:
    """A queue and a writer thread appending rows to hourly Parquet files under ``root``.

    ``to_rows(item) -> (model, timestamp_s, columns)`` turns a queued item into columns; it
    runs in the writer thread. ``to_blocks(items)``, when given, does the same for many items
    at once (returning a list of such triples), which is much cheaper per item. A fourth
    element, a ``pyarrow.Schema``, makes the part files of those columns conform to it (one
    schema per model version: :mod:`mloop.serving.logs.schema`).
    """

    def __init__(
        self,
        root: Path,
        to_rows: Callable[[Any], tuple[str, float, dict[str, Any]]],
        *,
        flush_rows: int = 10_000,
        flush_interval_s: float = 1.0,
        to_blocks: Callable[[list[Any]], list[tuple[str, float, dict[str, Any]]]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.to_rows = to_rows
        self.to_blocks = to_blocks
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        # A handler appends without waking the writer (deque.append is atomic): waking a
        # thread per request would cost a GIL hand-off each. The writer polls every POLL_S.
        self._queue: deque[Any] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = itertools.count()
        self._token = uuid.uuid4().hex[:12]  # this writer's, in every file name
        self._closed = False
        self.files_written = 0
        self.rows_written = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mloop-log", daemon=True)
            self._thread.start()

    def put(self, item: Any) -> None:
        """Queue ``item``; returns at once."""
        self._queue.append(item)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write everything queued so far and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:  # never started: write inline
            self._run()

    def _run(self) -> None:
        pending: list[Any] = []
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            stopping = self._stop.is_set()
            while self._queue:
                pending.append(self._queue.popleft())
            if stopping:  # everything put before close() is in ``pending`` now
                self._flush(pending)
                return
            if len(pending) >= self.flush_rows or time.monotonic() >= deadline:
                self._flush(pending)
                pending = []
                deadline = time.monotonic() + self.flush_interval_s
            self._stop.wait(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _flush(self, items: list[Any]) -> None:
        if not items:
            return
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        schemas: dict[int, Any] = {}
        for model, ts, columns, *rest in self._blocks(items):
            schema = rest[0] if rest else None
            schemas[id(schema)] = schema
            hour = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d/%H")
            # blocks sharing a schema share a part, whatever columns each one brought
            shape = id(schema) if schema is not None else tuple(columns)
            groups[(model, hour, shape, id(schema))].append(columns)
        for (model, hour, _, schema_id), blocks in groups.items():
            try:
                self._write(model, hour, blocks, schemas[schema_id])
            except Exception:
                log.exception("writing the %s log for %s failed", self.root.name, model)

    def _blocks(self, items: list[Any]) -> list[tuple[Any, ...]]:
        if self.to_blocks is not None:
            try:
                return self.to_blocks(items)
            except Exception:
                log.exception("converting log records in bulk failed; converting one by one")
        blocks = []
        for item in items:
            try:
                blocks.append(self.to_rows(item))
            except Exception:  # a record that cannot be logged must not stop the others
                log.exception("dropping an unloggable record")
        return blocks

    def _write(
        self, model: str, hour: str, blocks: list[dict[str, Any]], schema: Any = None
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        day, hh = hour.split("/")
        folder = self.root / _safe(model) / f"date={day}" / f"hour={hh}"
        folder.mkdir(parents=True, exist_ok=True)
        if schema is None:
            table = pa.table({name: _column([b[name] for b in blocks]) for name in blocks[0]})
        else:  # blocks may differ in columns (proba asked or not): conform each, then concat
            table = pa.concat_tables(
                [conform(pa.table({n: _column([b[n]]) for n in b}), schema) for b in blocks],
                promote_options="default",
            )
        table = table.replace_schema_metadata(None)
        stamp = f"{os.getpid()}-{int(time.time() * 1000)}-{self._token}-{next(self._seq)}"
        name = f"part-{stamp}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / name)
        self.files_written += 1
        self.rows_written += table.num_rows


def _column(parts: list[Any]) -> Any:
    import pyarrow as pa

    if all(isinstance(p, np.ndarray) and p.dtype.kind != "O" for p in parts):
        arr = np.concatenate(parts)
        if arr.dtype.kind == "M":
            return pa.array(arr, type=pa.timestamp("ms", tz="UTC"))
        return arr
    values: list[Any] = []
    for p in parts:
        values.extend(p.tolist() if isinstance(p, np.ndarray) else p)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (e.g. labels): keep them as text
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "model"
