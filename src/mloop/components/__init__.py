"""mloop.components: the standard pipeline steps (one module per step).

Data validation: ``statistics``, ``infer_schema`` and ``validate`` (the gate that fails a run
on blocking anomalies). The materializers of Statistics, Schema, Anomalies and DriftReport
artifacts are registered through the ``mloop.materializers`` entry points. Names are imported
lazily (PEP 562), so loading one component module does not import every library.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "infer_schema": "mloop.components.schema",
    "statistics": "mloop.components.statistics",
    "validate": "mloop.components.validate",
}

__all__ = ["infer_schema", "statistics", "validate"]


class _Components(types.ModuleType):
    """The package, guarding its step names: importing the submodule ``statistics`` makes
    Python bind the module over the package's name ``statistics``, after which
    ``from mloop.components import statistics`` gave the module instead of the step."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the step of that name stays what the package answers
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Components


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mloop.components' has no attribute {name!r}")
