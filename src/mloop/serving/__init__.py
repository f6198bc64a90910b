"""mloop.serving: the online prediction service and batch prediction (see docs/serving.md).

    from mloop.serving import ServingConfig, create_app, predict_file
    app = create_app(ServingConfig("models:/lending@production"))   # any ASGI server
    predict_file("models:/lending/3", "in.parquet", "out.parquet")

Names are imported on first use, so importing the package loads neither Starlette nor pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServingConfig", "TrafficSplit", "create_app", "predict_file"]

_WHERE = {
    "ServingConfig": "mloop.serving.settings",
    "TrafficSplit": "mloop.serving.settings",
    "create_app": "mloop.serving.http.app",
    "predict_file": "mloop.serving.batch.local",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mloop.serving' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
