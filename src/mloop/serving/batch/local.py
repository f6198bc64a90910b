"""Batch prediction: a Parquet file (or folder) in, the same rows with predictions out.

The input is read in chunks of ``chunk_size`` rows (Arrow record batches), each chunk checked
against the model's signature exactly as the online service checks a request, predicted and
appended to the output file, so memory stays bounded by one chunk whatever the file's size.
The output is written to a temporary name and renamed when complete: a failed run leaves no
half-written file behind. A Rich progress bar shows rows done when asked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mloop.errors import InputSchemaError, ValidationError
from mloop.serving.models.source import ServedModel, load_served_model
from mloop.serving.signature_check import check_columns

__all__ = ["BatchPredictionResult", "predict_file", "predict_table_chunks"]


@dataclass(frozen=True)
class BatchPredictionResult:
    """What a batch prediction did: rows and chunks written, wall time in seconds."""

    output: Path
    rows: int
    chunks: int
    seconds: float
    model: str
    version: str


def predict_table_chunks(model: ServedModel, batches: Any, *, with_proba: bool = False) -> Any:
    """Yield one Arrow table per record batch: its columns plus ``prediction`` (and one
    ``proba_<class>`` column per class with ``with_proba``)."""
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        names = [n for n in model.spec.names if n in batch.schema.names]
        missing = [n for n in model.spec.names if n not in batch.schema.names]
        if missing:
            raise InputSchemaError(
                missing[0], f"is missing from the input; the model needs {list(model.spec.names)}"
            )
        raw = {n: batch.column(n).to_numpy(zero_copy_only=False) for n in names}
        columns = check_columns(model.spec, raw)
        predictions, proba = model.predict(columns, with_proba)
        table = pa.Table.from_batches([batch])
        table = table.append_column("prediction", pa.array(np.asarray(predictions)))
        if with_proba and proba is not None:
            classes = model.loaded.classes or list(range(proba.shape[1]))
            for i, label in enumerate(classes):
                table = table.append_column(f"proba_{label}", pa.array(proba[:, i]))
        yield table


def predict_file(
    model_uri: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_size: int = 65_536,
    with_proba: bool = False,
    progress: bool = False,
    allow_nan: bool = False,
) -> BatchPredictionResult:
    """Predict every row of the Parquet ``input_path`` into ``output_path`` (Parquet)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if chunk_size < 1:
        raise ValidationError(f"chunk size must be >= 1 row, got {chunk_size}")
    source = Path(input_path)
    if not source.exists():
        raise ValidationError(f"input {source} does not exist; give a Parquet file or folder")
    target = Path(output_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = load_served_model(model_uri, allow_nan=allow_nan)
    try:
        dataset = ds.dataset(source, format="parquet")
        total = dataset.count_rows()
    except Exception as exc:  # pyarrow raises several types for an unreadable file
        raise ValidationError(f"cannot read {source} as Parquet: {exc}") from exc
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    rows = chunks = 0
    writer = None
    bar = _progress(progress, total)
    try:
        batches = dataset.to_batches(batch_size=chunk_size)
        for table in predict_table_chunks(model, batches, with_proba=with_proba):
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
            rows += table.num_rows
            chunks += 1
            if bar is not None:
                bar.advance(table.num_rows)
        if writer is None:
            raise ValidationError(f"{source} holds no rows to predict")
        writer.close()
        writer = None
        os.replace(tmp, target)
    finally:
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.stop()
        tmp.unlink(missing_ok=True)
    return BatchPredictionResult(
        target, rows, chunks, time.perf_counter() - started, model.name, model.version_label
    )


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("predicting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.progress.add_task("predict", total=total)
        self.progress.start()

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)

    def stop(self) -> None:
        self.progress.stop()


def _progress(enabled: bool, total: int) -> _Bar | None:
    return _Bar(total) if enabled else None
