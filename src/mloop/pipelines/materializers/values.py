"""Plain Python values as JSON (via orjson), and bytes as a raw file.

JSON round trip: ``None``, ``bool``, ``int`` (any size), ``float`` (including ``nan``, ``inf`` and
``-inf``), ``str``, ``list`` and ``dict`` with ``str`` keys come back equal and of the same type.
Tuples come back as lists; subclasses come back as their base type (an ``OrderedDict`` as a
``dict``, an ``IntEnum`` or ``numpy.float64`` as ``int``/``float``). Values JSON cannot express
exactly are tagged inside the file: ``{"$float": "nan"}``, ``{"$int": "<decimal>"}`` (outside
the 64-bit range), and ``{"$dict": {...}}`` around a user dict whose only key starts with ``$``,
so a user dict is never mistaken for a tag.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from mloop.pipelines.materializers.base import Materializer, UnsupportedValueError

__all__ = ["BytesMaterializer", "JsonMaterializer", "decode_json", "encode_json"]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_MAX_DEPTH = 250  # nesting levels (orjson stops at 255); deeper values are refused


def _float_tag(x: float) -> Any:
    if math.isnan(x):
        return {"$float": "nan"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return float(x)


def encode_json(value: Any, _depth: int = 0) -> Any:
    """``value`` as plain JSON data with the tags described in the module docstring.

    Raises ``UnsupportedValueError`` for anything else (sets, objects, non-``str`` keys).
    """
    if _depth > _MAX_DEPTH:
        raise UnsupportedValueError(f"value nested deeper than {_MAX_DEPTH} levels")
    if value is None or type(value) is bool or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        v = int(value)
        return v if _I64_MIN <= v <= _I64_MAX else {"$int": str(v)}
    if isinstance(value, float):
        return _float_tag(value)
    if isinstance(value, (list, tuple)):
        items = []
        for v in value:  # a loop, not a comprehension: one stack frame per level
            items.append(encode_json(v, _depth + 1))
        return items
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UnsupportedValueError(
                    f"dict key {k!r} is a {type(k).__name__}; JSON keys must be str"
                )
            out[str(k)] = encode_json(v, _depth + 1)
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$dict": out}
        return out
    raise UnsupportedValueError(f"{type(value).__module__}.{type(value).__qualname__} is not JSON")


def decode_json(data: Any) -> Any:
    """Invert :func:`encode_json`."""
    if isinstance(data, list):
        return [decode_json(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1:
            ((key, inner),) = data.items()
            if key == "$float":
                return _NONFINITE[inner]
            if key == "$int":
                return int(inner)
            if key == "$dict":
                return {k: decode_json(v) for k, v in inner.items()}
        return {k: decode_json(v) for k, v in data.items()}
    return data


class JsonMaterializer(Materializer):
    """JSON-able values -> ``value.json`` (tuples come back as lists)."""

    name = "builtins.json"
    version = 1
    artifact_type = "Value"
    types = (type(None), bool, int, float, str, list, tuple, dict)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``value.json``; properties: ``python_type``, and ``length`` for containers."""
        data = orjson.dumps(encode_json(value))
        (folder / "value.json").write_bytes(data)
        props: dict[str, Any] = {"python_type": type(value).__name__}
        if isinstance(value, (list, tuple, dict, str)):
            props["length"] = len(value)
        return props

    def load(self, folder: Path) -> Any:
        """The value read from ``value.json``."""
        return decode_json(orjson.loads((folder / "value.json").read_bytes()))


class BytesMaterializer(Materializer):
    """``bytes``/``bytearray``/``memoryview`` -> ``data.bin``, loaded as ``bytes``."""

    name = "builtins.bytes"
    version = 1
    artifact_type = "Bytes"
    types = (bytes, bytearray, memoryview)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write the raw bytes; properties: ``length`` in bytes."""
        data = memoryview(value).cast("B")
        with open(folder / "data.bin", "wb") as f:
            f.write(data)
        return {"length": data.nbytes}

    def load(self, folder: Path) -> bytes:
        """The bytes of ``data.bin``."""
        return (folder / "data.bin").read_bytes()
