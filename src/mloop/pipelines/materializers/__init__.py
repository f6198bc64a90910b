"""Materializers: how step outputs become artifacts (Parquet, .npy, JSON, bytes, opt-in pickle).

Importing this package does not import pandas, polars, pyarrow or numpy: built-ins claim their
types by dotted name and import their library when they first save or load.
"""

from __future__ import annotations

from mloop.pipelines.materializers.base import Materializer, UnsupportedValueError
from mloop.pipelines.materializers.io import StoredValue, load_value, store_value
from mloop.pipelines.materializers.registry import (
    materializer_by_name,
    materializer_for,
    register_materializer,
    registered_materializers,
)

__all__ = [
    "Materializer",
    "StoredValue",
    "UnsupportedValueError",
    "load_value",
    "materializer_by_name",
    "materializer_for",
    "register_materializer",
    "registered_materializers",
    "store_value",
]
