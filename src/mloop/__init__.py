"""mloop: close the machine-learning loop.

The public facade. Names are imported lazily (PEP 562), so ``import mloop`` stays light and the
CLI answers ``--help`` quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "step": "mloop.pipelines.dsl",
    "pipeline": "mloop.pipelines.dsl",
    "start_run": "mloop.tracking.fluent",
    "end_run": "mloop.tracking.fluent",
    "active_run": "mloop.tracking.fluent",
    "log_params": "mloop.tracking.fluent",
    "log_metrics": "mloop.tracking.fluent",
    "log_artifact": "mloop.tracking.fluent",
    "set_tags": "mloop.tracking.fluent",
    "flush": "mloop.tracking.fluent",
    "search_runs": "mloop.tracking",
    # the registry calls MLflow users look for at the top (mlflow.register_model)
    "register_model": "mloop.registry",
    "set_alias": "mloop.registry",
    # models:/ URIs and package folders alike; the registry resolves a URI once (ADR 0028)
    "load_model": "mloop.registry",
    "FileInput": "mloop.pipelines.file_inputs",
}
_SUBMODULES = {"data", "evaluation", "models", "features", "registry", "tracking", "pipelines"}

__all__ = [
    "FileInput",
    "__version__",
    "active_run",
    "end_run",
    "flush",
    "load_model",
    "log_artifact",
    "log_metrics",
    "log_params",
    "pipeline",
    "register_model",
    "search_runs",
    "set_alias",
    "set_tags",
    "start_run",
    "step",
]

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and editors
    from mloop.pipelines.dsl import pipeline, step
    from mloop.pipelines.file_inputs import FileInput
    from mloop.registry import load_model, register_model, set_alias
    from mloop.tracking import search_runs
    from mloop.tracking.fluent import (
        active_run,
        end_run,
        flush,
        log_artifact,
        log_metrics,
        log_params,
        set_tags,
        start_run,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"mloop.{name}")
    raise AttributeError(f"module 'mloop' has no attribute {name!r}")
