"""Request input checked against the model's signature before the model sees it.

Protocols parse a body into ``Columns`` (column name -> values); :func:`check_columns` turns them
into numpy arrays of the signature's dtypes or raises :class:`~mloop.errors.InputSchemaError`
naming the offending field: an unknown or missing column, a value of the wrong type, columns of
unequal length, or a missing value (null/NaN) where the signature does not allow one.

A column accepts missing values when the signature marks it ``nullable`` (the model was trained
with missing values there) or the service runs with ``allow_nan`` (``--allow-nan``), which
accepts them everywhere. A missing number arrives as NaN, a missing string as None; a nullable
integer column holding a missing value is handed over as float64 with NaN (what pandas makes of
such a column). Packages saved before nullability was recorded mark no column nullable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mloop.errors import InputSchemaError

__all__ = [
    "Columns",
    "InputSpec",
    "check_columns",
    "dtype_kind",
    "oip_datatype",
    "spec_from_signature",
]

Columns = dict[str, np.ndarray]
"""Checked input: one 1-D array per signature column, all of the same length."""

_FLOAT = ("float64", "float32", "float16", "double", "Float64", "Float32")
_INT = ("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "Int64", "Int32")
_BOOL = ("bool", "boolean")

MISSING_REFUSED = (
    "holds a missing value (null/NaN), which the model's signature does not allow here (its "
    "training data had none in this column); send a value, or serve with --allow-nan"
)


@dataclass(frozen=True)
class InputSpec:
    """The model's inputs as the service checks them: ``kinds`` maps a column to ``float``,
    ``int``, ``bool`` or ``str``; ``dtypes`` to the numpy dtype handed to the model."""

    names: tuple[str, ...]
    kinds: Mapping[str, str]
    dtypes: Mapping[str, np.dtype]
    allow_nan: bool = False
    entity_keys: tuple[str, ...] = ()  # accepted in requests, used to fetch features
    nullable: frozenset[str] = frozenset()  # columns the signature lets hold null/NaN

    def accepts_missing(self, name: str) -> bool:
        return self.allow_nan or name in self.nullable


def dtype_kind(dtype: str) -> str:
    """``float``, ``int``, ``bool`` or ``str`` for a signature dtype name."""
    if dtype in _FLOAT or dtype.startswith("float"):
        return "float"
    if dtype in _INT or dtype.startswith(("int", "uint")):
        return "int"
    if dtype in _BOOL:
        return "bool"
    return "str"


def spec_from_signature(signature: Any, *, allow_nan: bool = False) -> InputSpec:
    """An :class:`InputSpec` from a model signature (``.inputs``: items with name and dtype)."""
    names, kinds, dtypes = [], {}, {}
    nullable = frozenset(c.name for c in signature.inputs if getattr(c, "nullable", None))
    for col in signature.inputs:
        kind = dtype_kind(str(col.dtype))
        names.append(col.name)
        kinds[col.name] = kind
        dtypes[col.name] = np.dtype(
            {"float": "float32" if col.dtype == "float32" else "float64", "int": "int64"}.get(
                kind, "bool" if kind == "bool" else "object"
            )
        )
    return InputSpec(tuple(names), kinds, dtypes, allow_nan, nullable=nullable)


def oip_datatype(kind: str, dtype: np.dtype | None = None) -> str:
    """The Open Inference Protocol datatype of a column kind (``FP64``, ``INT64``, ...)."""
    if kind == "float":
        return "FP32" if dtype is not None and dtype == np.float32 else "FP64"
    return {"int": "INT64", "bool": "BOOL"}.get(kind, "BYTES")


def check_columns(spec: InputSpec, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Columns:
    """Check ``columns`` against ``spec``; return them as arrays in signature order."""
    unknown = [n for n in columns if n not in spec.kinds and n not in spec.entity_keys]
    if unknown:
        raise InputSchemaError(
            unknown[0], f"is not an input of this model; its inputs are {list(spec.names)}"
        )
    missing = [name for name in spec.names if name not in columns]
    if missing:
        raise InputSchemaError(missing[0], "is missing; every input of the signature is required")
    out: Columns = {}
    n_rows = -1
    for name in spec.names:
        arr = _convert(
            name, spec.kinds[name], spec.dtypes[name], columns[name], spec.accepts_missing(name)
        )
        if n_rows < 0:
            n_rows = len(arr)
        elif len(arr) != n_rows:
            raise InputSchemaError(
                name, f"has {len(arr)} values but {spec.names[0]!r} has {n_rows}; send one per row"
            )
        out[name] = arr
    if n_rows == 0:
        raise InputSchemaError(spec.names[0], "holds no rows; send at least one")
    return out


def _convert(name: str, kind: str, dtype: np.dtype, values: Any, allow_nan: bool) -> np.ndarray:
    if type(values) is list and values:
        plain = _from_plain_list(kind, dtype, values, allow_nan)
        if plain is not None:
            return plain
    try:
        raw = values if isinstance(values, np.ndarray) else np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InputSchemaError(name, f"cannot be read as a list of values: {exc}") from None
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise InputSchemaError(name, f"must be a flat list of values, got shape {list(raw.shape)}")
    if raw.size == 0:
        return np.empty(0, dtype=dtype)
    code = raw.dtype.kind
    if kind == "float":
        if code in "fiu":
            arr = raw.astype(dtype, copy=False)
        elif code == "O":
            arr = _floats_from_objects(name, raw, dtype)
        else:
            raise InputSchemaError(name, f"expected numbers, got {_what(raw)}")
        if not allow_nan and len(arr) and np.isnan(arr).any():
            raise InputSchemaError(name, MISSING_REFUSED)
        return arr
    if code == "O" and any(_missing(v) for v in raw):
        if not allow_nan or kind == "bool":
            raise InputSchemaError(name, MISSING_REFUSED)
        if kind == "int":
            return _floats_from_objects(name, raw, np.dtype("float64"))
        raw = np.array([None if _missing(v) else v for v in raw], dtype=object)
        if all(v is None or isinstance(v, str) for v in raw):
            return raw
        raise InputSchemaError(name, f"expected strings, got {_what(raw)}")
    if kind == "int":
        if code in "iu":
            return raw.astype(np.int64, copy=False)
        whole = code == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all()
        if whole and (np.abs(raw) < 2.0**63).all():  # beyond int64 the cast would wrap
            return raw.astype(np.int64)
        if code == "f" and np.isnan(raw).any():
            if not allow_nan:
                raise InputSchemaError(name, MISSING_REFUSED)
            if np.isfinite(raw[~np.isnan(raw)]).all():
                return raw.astype(np.float64)
        raise InputSchemaError(name, f"expected integers, got {_what(raw)}")
    if kind == "bool":
        if code == "b":
            return raw
        raise InputSchemaError(name, f"expected booleans (true/false), got {_what(raw)}")
    if code in "US":
        return raw.astype(object)
    if code == "O" and all(isinstance(v, str) for v in raw):
        return raw
    raise InputSchemaError(name, f"expected strings, got {_what(raw)}")


def _from_plain_list(kind: str, dtype: np.dtype, values: list[Any], allow_nan: bool) -> Any:
    """The common case of a parsed JSON body, cheaply: a list holding only plain numbers (for
    number columns) or only strings. None: anything else, for the general path to convert or
    to refuse with its precise message. (numpy's own conversion of a short list costs more
    than these loops, and would turn ``"1.5"`` or ``true`` into numbers silently.)"""
    if kind == "float":
        for v in values:
            if type(v) is not float and type(v) is not int:
                return None
        if not allow_nan:
            for v in values:
                if v != v:  # NaN
                    return None
        try:
            return np.array(values, dtype=dtype)
        except OverflowError:
            return None
    if kind == "str":
        for v in values:
            if type(v) is not str:
                return None
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if kind == "int":
        for v in values:
            if type(v) is not int:
                return None
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            return None
    return None


def _missing(value: Any) -> bool:
    """A JSON null, or a NaN where a string or integer was expected (CSV, pandas)."""
    return value is None or (isinstance(value, float) and value != value)


def _floats_from_objects(name: str, raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Numbers mixed with nulls (JSON ``null`` -> NaN); anything else is refused."""
    out = np.empty(len(raw), dtype=dtype)
    for i, v in enumerate(raw):
        if v is None:
            out[i] = np.nan
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[i] = v
        else:
            raise InputSchemaError(name, f"expected numbers, got {type(v).__name__} {v!r:.40}")
    return out


def _what(raw: np.ndarray) -> str:
    code = raw.dtype.kind
    names = {"U": "strings", "S": "bytes", "b": "booleans", "f": "numbers with fractions"}
    if code in names:
        return names[code]
    if code in "iu":
        return "integers"
    kinds = sorted({type(v).__name__ for v in raw[:100]})
    return "values of type " + "/".join(kinds)
