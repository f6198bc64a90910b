"""MLflow's scoring format on ``POST /invocations``, so MLflow's scoring client works unchanged.

JSON bodies carry exactly one of ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``),
``dataframe_records`` (``[{column: value}, ...]``), ``instances`` or ``inputs`` (records, or a
dict of columns); ``text/csv`` bodies carry a header row. The answer is
``{"predictions": [...]}``. ``params`` (MLflow's inference parameters) are refused: mloop models
take none.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson

from mloop.errors import InputSchemaError, RequestParseError
from mloop.serving.signature_check import InputSpec

__all__ = ["encode_predictions", "parse_invocation"]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def parse_invocation(body: bytes, content_type: str, spec: InputSpec) -> dict[str, Any]:
    """Columns (name -> values) from an ``/invocations`` body of the given content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return _from_csv(body)
    if media not in ("application/json", ""):
        raise RequestParseError(
            f"content type {media!r} is not supported; send application/json or text/csv"
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestParseError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestParseError(f"the body must be a JSON object with one of the keys {FORMATS}")
    found = [k for k in FORMATS if k in doc]
    if len(found) != 1:
        raise InputSchemaError(
            "body", f"must hold exactly one of {FORMATS}, found {found or list(doc)[:5]}"
        )
    extra = [k for k in doc if k not in (*FORMATS, "params")]
    if extra:
        raise InputSchemaError(extra[0], f"is not a scoring field; use one of {FORMATS}")
    if doc.get("params"):
        raise InputSchemaError("params", "this model takes no inference parameters")
    key = found[0]
    payload = doc[key]
    if key == "dataframe_split":
        return _from_split(payload)
    if key == "dataframe_records" or isinstance(payload, list):
        return _from_records(key, payload, spec)
    if isinstance(payload, dict):
        return {str(k): v if isinstance(v, list) else [v] for k, v in payload.items()}
    raise InputSchemaError(key, "must be a list of records or an object of columns")


def _from_split(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InputSchemaError("dataframe_split", "must be an object with 'columns' and 'data'")
    columns, data = payload.get("columns"), payload.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputSchemaError("dataframe_split.columns", "must be a list of column names")
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise InputSchemaError("dataframe_split.data", "must be a list of rows (lists)")
    for i, row in enumerate(data):
        if len(row) != len(columns):
            raise InputSchemaError(
                f"dataframe_split.data[{i}]", f"has {len(row)} values for {len(columns)} columns"
            )
    if len(set(columns)) != len(columns):
        raise InputSchemaError("dataframe_split.columns", "names a column twice")
    if not data:
        return {c: [] for c in columns}
    return {c: list(values) for c, values in zip(columns, zip(*data, strict=True), strict=True)}


def _from_records(key: str, payload: Any, spec: InputSpec) -> dict[str, Any]:
    if not isinstance(payload, list) or not payload:
        raise InputSchemaError(key, "must be a non-empty list of records")
    first = payload[0]
    if isinstance(first, list):  # rows without names: the signature's column order
        for i, row in enumerate(payload):
            if not isinstance(row, list) or len(row) != len(spec.names):
                raise InputSchemaError(
                    f"{key}[{i}]", f"must be a list of {len(spec.names)} values {list(spec.names)}"
                )
        return {c: list(v) for c, v in zip(spec.names, zip(*payload, strict=True), strict=True)}
    names: list[str] = []
    for i, record in enumerate(payload):
        if not isinstance(record, dict):
            raise InputSchemaError(f"{key}[{i}]", "must be an object {column: value}")
        if i == 0:
            names = list(record)
        elif len(record) != len(names) or any(n not in record for n in names):
            extra = [k for k in record if k not in names]
            if extra:
                raise InputSchemaError(extra[0], f"appears in {key}[{i}] but not in {key}[0]")
            lacking = [n for n in names if n not in record]
            raise InputSchemaError(lacking[0], f"is missing from {key}[{i}]")
    return {n: [r[n] for r in payload] for n in names}


def _from_csv(body: bytes) -> dict[str, Any]:
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except Exception as exc:  # pandas raises several unrelated types for a malformed CSV
        raise RequestParseError(f"the CSV body cannot be read: {exc}") from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def encode_predictions(predictions: np.ndarray) -> bytes:
    """``{"predictions": [...]}``."""
    values = predictions.tolist()
    return orjson.dumps({"predictions": values})
