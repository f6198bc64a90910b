"""mloop.components: the standard pipeline steps (one module per step).

Data validation: ``statistics``, ``infer_schema`` and ``validate`` (the gate that fails a run
on blocking anomalies). The materializers of Statistics, Schema, Anomalies and DriftReport
artifacts are registered through the ``mloop.materializers`` entry points. Names are imported
lazily (PEP 562), so loading one component module does not import every library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "infer_schema": "mloop.components.schema",
    "statistics": "mloop.components.statistics",
    "validate": "mloop.components.validate",
}

__all__ = ["infer_schema", "statistics", "validate"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mloop.components' has no attribute {name!r}")
