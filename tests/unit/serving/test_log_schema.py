"""One prediction-log schema per model version (issue 17.8): parts written from requests that
asked for probabilities or not, with all-null batches of nullable columns, by two workers and
after a restart, read back with a plain glob in DuckDB and Polars."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq

from mloop.serving.logs.prediction_log import ParquetLog, PredictionRecord, prediction_blocks
from mloop.serving.logs.schema import conform, log_schema

KINDS = {"age": "int", "income": "float", "city": "str", "member": "bool"}
SCHEMA = log_schema(list(KINDS), KINDS, classes=["bad", "good"], output_kind="str", has_proba=True)


def record(i: int, *, proba: bool, nulls: bool = False) -> PredictionRecord:
    n = 3
    inputs = {
        "age": np.array([30, 40, 50][:n]),
        "income": np.array([np.nan] * n) if nulls else np.array([1.0, 2.0, 3.0]),
        "city": np.array([None] * n, dtype=object)
        if nulls
        else np.array(["a", "b", "c"], dtype=object),
        "member": np.array([True, False, True]),
    }
    return PredictionRecord(
        model="credit",
        version="1",
        route="champion",
        request_id=f"r{i}",
        timestamp=1_764_000_000.0 + i,
        latency_ms=1.0,
        inputs=inputs,
        predictions=np.array(["good", "bad", "good"], dtype=object),
        probabilities=np.full((n, 2), 0.5) if proba else None,
        schema=SCHEMA,
    )


def write(root: Path, records: list[PredictionRecord]) -> None:
    log = ParquetLog(root, lambda r: prediction_blocks([r])[0], to_blocks=prediction_blocks)
    for r in records:
        log.put(r)
    log.close()


def test_every_part_of_a_version_has_one_schema_and_a_glob_reads(tmp_path: Path) -> None:
    write(tmp_path, [record(0, proba=False), record(1, proba=True)])
    write(tmp_path, [record(2, proba=False, nulls=True)])  # another worker / after a restart
    write(tmp_path, [record(3, proba=True, nulls=True), record(4, proba=False)])
    parts = sorted(tmp_path.rglob("part-*.parquet"))
    assert len(parts) >= 3
    schemas = {pq.read_schema(p).remove_metadata().to_string() for p in parts}
    assert len(schemas) == 1
    glob = str(tmp_path / "credit" / "**" / "*.parquet")
    rows = duckdb.connect().execute(
        f"SELECT count(*), count(prediction_proba) FROM read_parquet('{glob}')"
    )
    assert rows.fetchone() == (15, 6)
    frame = pl.read_parquet(glob)
    assert frame.height == 15 and frame.schema["income"] == pl.Float64
    assert frame.schema["city"] == pl.String and frame["city"].null_count() == 6
    assert frame.schema["prediction"] == pl.String


def test_conform_casts_fills_and_never_drops_rows() -> None:
    import pyarrow as pa

    table = pa.table({"request_id": ["x"], "row": [0], "age": [1.0], "prediction": ["good"]})
    out = conform(table, SCHEMA)
    assert out.schema == SCHEMA and out.num_rows == 1 and out.column("age").to_pylist() == [1]
    odd = pa.table({"request_id": ["x"], "prediction": ["good"], "surprise": [1]})
    kept = conform(odd, SCHEMA)
    assert kept.num_rows == 1 and "surprise" in kept.column_names  # logged, kept as it was
