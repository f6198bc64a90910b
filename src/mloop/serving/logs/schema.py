"""One Parquet schema per served model version for its prediction log.

Every part file a version writes has the same columns in the same order with the same types,
whoever wrote it (any worker, before or after a restart), so a plain glob read of one
version's parts works in DuckDB, Polars or PyArrow. The schema is a pure function of the
model's signature: the log's own columns, one column per signature input (typed by its kind;
a batch whose values are all null still gets that type, never Arrow's ``null``), then
``prediction`` (the class labels' type for a classifier, else the output dtype's) and, for a
model with probabilities, ``prediction_proba`` (``list<double>``, null on rows whose request
did not compute them). A new version may add inputs: across versions the schemas differ by
those columns, so read several versions with ``union_by_name=true`` (DuckDB) or
``how="diagonal_relaxed"`` (Polars).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["META_COLUMNS", "conform", "input_column", "log_schema"]

log = logging.getLogger("mloop.serving")
META_COLUMNS = ("request_id", "row", "timestamp", "model", "version", "route", "latency_ms")


def input_column(name: str) -> str:
    """The log column of input ``name`` (prefixed when it clashes with a log column)."""
    return f"input.{name}" if name in META_COLUMNS else name


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}.get(kind, pa.string())


def _kind_of_values(values: Sequence[Any]) -> str:
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return "bool"
    if arr.dtype.kind in "iu":
        return "int"
    if arr.dtype.kind == "f":
        return "float"
    return "str"


def log_schema(
    names: Sequence[str],
    kinds: dict[str, str],
    *,
    classes: Sequence[Any] | None,
    output_kind: str,
    has_proba: bool,
) -> Any:
    """The schema of one version's log parts (see the module docstring); ``kinds`` maps an
    input to ``float``/``int``/``bool``/``str``, ``output_kind`` is the prediction's kind when
    the model has no classes."""
    import pyarrow as pa

    fields = [
        pa.field("request_id", pa.string()),
        pa.field("row", pa.int32()),
        pa.field("timestamp", pa.timestamp("ms", tz="UTC")),
        pa.field("model", pa.string()),
        pa.field("version", pa.string()),
        pa.field("route", pa.string()),
        pa.field("latency_ms", pa.float64()),
    ]
    fields += [pa.field(input_column(n), _arrow_type(kinds.get(n, "str"))) for n in names]
    kind = _kind_of_values(classes) if classes is not None and len(classes) else output_kind
    fields.append(pa.field("prediction", _arrow_type(kind or "float")))
    if has_proba:
        fields.append(pa.field("prediction_proba", pa.list_(pa.float64())))
    return pa.schema(fields)


def conform(table: Any, schema: Any) -> Any:
    """``table`` with exactly ``schema``'s columns, order and types: a missing column is all
    null, a type is cast. When a value cannot be cast (a bug upstream), the table is kept as it
    is and the mismatch logged: a log row is never dropped to keep a schema."""
    import pyarrow as pa

    columns = []
    try:
        for field in schema:
            if field.name in table.column_names:
                col = table.column(field.name)
                columns.append(col if col.type == field.type else col.cast(field.type))
            else:
                columns.append(pa.nulls(table.num_rows, type=field.type))
        extra = [c for c in table.column_names if c not in schema.names]
        if extra:
            raise ValueError(f"columns {extra} are not in the version's log schema")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError) as exc:
        log.warning("a prediction-log part keeps its own schema: %s", exc)
        return table
    return pa.Table.from_arrays(columns, schema=schema)
