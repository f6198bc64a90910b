"""The Open Inference Protocol v2 (KServe, Triton, MLServer) for tabular models.

One named input per signature column, as MLServer's pandas codec does, with shape ``[n]`` or
``[n, 1]`` and a datatype matching the column (``FP64``/``FP32``/``INT*`` for numbers, ``BOOL``,
``BYTES`` for strings). Data arrive as JSON arrays, or with Triton's binary tensor extension
(``Inference-Header-Content-Length``: a JSON header followed by raw little-endian tensors), which
is decoded here; answers are always JSON. Outputs are ``predict`` (a classifier's class labels
as trained: ``BYTES`` for string labels) and, when asked for by name, ``predict_proba`` (a
classifier's probabilities, ``[n, classes]``, whose ``parameters.classes`` lists the class of each
column, as the model metadata does).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mloop.errors import InputSchemaError, RequestParseError
from mloop.serving.signature_check import InputSpec, dtype_kind, oip_datatype

__all__ = [
    "BINARY_HEADER",
    "OipRequest",
    "encode_infer_response",
    "model_metadata",
    "parse_infer_request",
]

BINARY_HEADER = "inference-header-content-length"
OUTPUTS = ("predict", "predict_proba")

_NUMERIC = {
    "FP64": "<f8",
    "FP32": "<f4",
    "FP16": "<f2",
    "INT64": "<i8",
    "INT32": "<i4",
    "INT16": "<i2",
    "INT8": "<i1",
    "UINT64": "<u8",
    "UINT32": "<u4",
    "UINT16": "<u2",
    "UINT8": "<u1",
    "BOOL": "?",
}
_ACCEPTS = {
    "float": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32"},
    "int": {"INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"},
    "bool": {"BOOL"},
    "str": {"BYTES"},
}


@dataclass(frozen=True)
class OipRequest:
    """A parsed inference request: columns by name, the request id and the outputs asked for."""

    columns: dict[str, Any]
    id: str | None
    outputs: tuple[str, ...]


def parse_infer_request(body: bytes, headers: Mapping[str, str], spec: InputSpec) -> OipRequest:
    """Parse a JSON (or Triton binary-extension) body into columns the signature check takes."""
    header_len = headers.get(BINARY_HEADER)
    if header_len is not None:
        try:
            cut = int(header_len)
        except ValueError:
            raise RequestParseError(
                f"{BINARY_HEADER} must be an integer, got {header_len!r}"
            ) from None
        if not 0 < cut <= len(body):
            raise RequestParseError(
                f"{BINARY_HEADER} is {cut} but the body holds {len(body)} bytes"
            )
        doc, binary = _json(body[:cut]), memoryview(body)[cut:]
    else:
        doc, binary = _json(body), None
    if not isinstance(doc, dict):
        raise RequestParseError("an inference request must be a JSON object with 'inputs'")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InputSchemaError("inputs", "must be a non-empty list of named tensors")
    columns: dict[str, Any] = {}
    offset = 0
    for i, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputSchemaError(f"inputs[{i}]", "must be an object with a 'name'")
        name = item["name"]
        if name in columns:
            raise InputSchemaError(name, "is given twice")
        kind = spec.kinds.get(name)
        datatype = item.get("datatype")
        if kind is None and name not in spec.entity_keys:
            raise InputSchemaError(
                name, f"is not an input of this model; its inputs are {list(spec.names)}"
            )
        if kind is None:
            if datatype not in _NUMERIC and datatype != "BYTES":
                raise InputSchemaError(name, f"has an unknown datatype {datatype!r}")
        elif datatype not in _ACCEPTS[kind]:
            want = oip_datatype(kind, spec.dtypes[name])
            raise InputSchemaError(name, f"has datatype {datatype!r}; this input takes {want}")
        shape = item.get("shape")
        if type(shape) is list and len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0:
            rows = shape[0]  # the common case, without the general check's cost
        else:
            rows = _rows_of(name, shape)
        params = item.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if binary is None:
                raise RequestParseError(
                    f"input {name!r} has binary_data_size but the request has no "
                    f"{BINARY_HEADER} header"
                )
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise RequestParseError(f"input {name!r}: binary_data_size {size!r} is wrong")
            values: Any = _decode_binary(name, datatype, binary[offset : offset + size])
            offset += size
        else:
            values = item.get("data")
            if not isinstance(values, list):
                raise InputSchemaError(name, "needs a 'data' array")
            if values and isinstance(values[0], list):
                values = [v for row in values for v in (row if isinstance(row, list) else [row])]
        if len(values) != rows:
            raise InputSchemaError(name, f"shape says {rows} values but data holds {len(values)}")
        columns[name] = values
    return OipRequest(columns, _request_id(doc.get("id")), _outputs(doc.get("outputs")))


def _json(raw: bytes | memoryview) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestParseError(f"the body is not valid JSON: {exc}") from None


def _rows_of(name: str, shape: Any) -> int:
    ok = isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)
    if not ok or len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InputSchemaError(name, f"shape must be [n] or [n, 1] (one column), got {shape!r}")
    return int(shape[0])


def _decode_binary(name: str, datatype: str, raw: memoryview) -> Any:
    if datatype == "BYTES":  # each element: 4-byte little-endian length, then the bytes
        out, pos = [], 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise RequestParseError(f"input {name!r}: truncated BYTES element")
            (length,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + length > len(raw):
                raise RequestParseError(f"input {name!r}: truncated BYTES element")
            try:
                out.append(bytes(raw[pos : pos + length]).decode("utf-8"))
            except UnicodeDecodeError:
                raise InputSchemaError(name, "holds bytes that are not UTF-8 text") from None
            pos += length
        return out
    dtype = np.dtype(_NUMERIC[datatype])
    if len(raw) % dtype.itemsize:
        raise RequestParseError(
            f"input {name!r}: {len(raw)} bytes is not a whole number of {datatype} values"
        )
    return np.frombuffer(raw, dtype=dtype)


def _request_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise InputSchemaError("id", "must be a string of at most 200 characters")
    return value


def _outputs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ("predict",)
    if not isinstance(value, list):
        raise InputSchemaError("outputs", "must be a list of {'name': ...} objects")
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in OUTPUTS:
            raise InputSchemaError("outputs", f"unknown output {name!r}; this model has {OUTPUTS}")
        names.append(name)
    return tuple(names) or ("predict",)


def _tensor(
    name: str, values: np.ndarray, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    kind = values.dtype.kind
    if kind == "f":
        datatype = "FP32" if values.dtype == np.float32 else "FP64"
    elif kind in "iu":
        datatype = "INT64"
    elif kind == "b":
        datatype = "BOOL"
    else:
        datatype = "BYTES"
    data = values.reshape(-1).tolist()
    if datatype == "BYTES":
        data = [v if isinstance(v, str) else str(v) for v in data]
    tensor = {"name": name, "shape": list(values.shape), "datatype": datatype, "data": data}
    if parameters:
        tensor["parameters"] = parameters
    return tensor


def _proba_parameters(classes: list[Any] | None) -> dict[str, Any] | None:
    return None if classes is None else {"classes": list(classes)}


def encode_infer_response(
    *,
    model_name: str,
    model_version: str | None,
    request_id: str,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    outputs: tuple[str, ...],
    classes: list[Any] | None = None,
) -> bytes:
    """The JSON inference response holding the outputs asked for; ``classes`` names the
    probability columns."""
    tensors = []
    for name in outputs:
        if name == "predict":
            tensors.append(_tensor("predict", predictions))
        elif probabilities is not None:
            tensors.append(_tensor("predict_proba", probabilities, _proba_parameters(classes)))
        else:
            raise InputSchemaError("outputs", "this model has no predict_proba output")
    doc: dict[str, Any] = {"model_name": model_name, "id": request_id, "outputs": tensors}
    if model_version is not None:
        doc["model_version"] = model_version
    return orjson.dumps(doc)


def model_metadata(
    name: str,
    version: str | None,
    flavor: str,
    spec: InputSpec,
    has_proba: bool,
    output_dtype: str = "",
    classes: list[Any] | None = None,
) -> dict[str, Any]:
    """``GET /v2/models/{name}``: inputs and outputs with OIP datatypes and shapes; an input
    that accepts missing values carries ``parameters.nullable``, and ``predict_proba`` the
    class of each of its columns (``parameters.classes``)."""
    inputs = []
    for n in spec.names:
        item: dict[str, Any] = {
            "name": n,
            "datatype": oip_datatype(spec.kinds[n], spec.dtypes[n]),
            "shape": [-1],
        }
        if n in spec.nullable:
            item["parameters"] = {"nullable": True}
        inputs.append(item)
    kind = dtype_kind(output_dtype) if output_dtype else "str"
    outputs = [{"name": "predict", "datatype": oip_datatype(kind), "shape": [-1]}]
    if has_proba:
        proba: dict[str, Any] = {
            "name": "predict_proba",
            "datatype": "FP64",
            "shape": [-1, -1 if classes is None else len(classes)],
        }
        if classes is not None:
            proba["parameters"] = {"classes": list(classes)}
        outputs.append(proba)
    return {
        "name": name,
        "versions": [version] if version is not None else [],
        "platform": f"mloop-{flavor}",
        "inputs": inputs,
        "outputs": outputs,
    }
