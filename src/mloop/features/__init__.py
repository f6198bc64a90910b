"""The feature store: definitions, point-in-time training sets, online features (Feast's names).

``FeatureStore(repo_path=".")`` is the entry point; definitions (``Entity``, ``FeatureView``,
``FeatureService``, ``OnDemandFeatureView``, ``FileSource``, ``SqlSource``, ``Field`` and dtypes
``Int64``, ``Float64``, ``String``, ...) are imported from here. Heavy modules (DuckDB, Polars,
Redis) load on first use.
"""

from __future__ import annotations

from typing import Any

from mloop.features.definitions import (
    Bool,
    Bytes,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    Float32,
    Float64,
    Int32,
    Int64,
    OnDemandFeatureView,
    String,
    UnixTimestamp,
    on_demand_feature_view,
)
from mloop.features.sources import FileSource, RequestSource, SqlSource

__all__ = [
    "Bool",
    "Bytes",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Field",
    "FileSource",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "OnDemandFeatureView",
    "RequestSource",
    "SqlSource",
    "String",
    "UnixTimestamp",
    "on_demand_feature_view",
]


def __getattr__(name: str) -> Any:
    if name == "FeatureStore":
        from mloop.features.store import FeatureStore

        return FeatureStore
    raise AttributeError(f"module 'mloop.features' has no attribute {name!r}")
