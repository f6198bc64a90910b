"""Backend lookup: the one table of pluggable backends, by kind, and one way to find them.

``BUILTINS[kind]`` maps a built-in short name to ``"module:Class"``; it is the only table of
built-ins (stores, runners, flavors, materializers), so every lookup reads it. ``load(kind,
name)`` resolves, in order: a built-in short name, an installed entry point in the group
``mloop.<kind>``, then a dotted path ``package.module:Class``. Built-ins are strings, imported
only when asked for, so ``import mloop`` never pulls in Redis, Ray, DuckDB or a database driver.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from mloop.errors import BackendNotFoundError

__all__ = ["BUILTINS", "builtins", "known_names", "load", "register"]

_MATERIALIZERS = "mloop.pipelines.materializers"

BUILTINS: dict[str, dict[str, str]] = {
    # metadata stores are chosen by the URL's scheme
    "metadata_stores": {
        "sqlite": "mloop.metadata.sql.store:SqlMetadataStore",
        "postgresql": "mloop.metadata.sql.store:SqlMetadataStore",
    },
    "artifact_stores": {
        "local": "mloop.artifacts.local:LocalArtifactStore",
        "file": "mloop.artifacts.local:LocalArtifactStore",
        "fsspec": "mloop.artifacts.fsspec:FsspecArtifactStore",
    },
    "runners": {
        "local": "mloop.pipelines.runners.local:LocalRunner",
        "ray": "mloop.pipelines.runners.ray:RayRunner",
    },
    "online_stores": {
        "sqlite": "mloop.features.online_stores.sqlite:SqliteOnlineStore",
        "redis": "mloop.features.online_stores.redis:RedisOnlineStore",
    },
    "offline_stores": {
        "duckdb": "mloop.features.offline_stores.duckdb:DuckDBOfflineStore",
    },
    # Tried in this order to pick a flavor for a model, most specific first: sklearn's test
    # (fit + predict + get_params) also matches the scikit-learn wrappers of LightGBM and
    # XGBoost, which have native formats.
    "model_flavors": {
        "onnx": "mloop.models.flavors.onnx:OnnxFlavor",
        "lightgbm": "mloop.models.flavors.lightgbm:LightGBMFlavor",
        "xgboost": "mloop.models.flavors.xgboost:XGBoostFlavor",
        "torch": "mloop.models.flavors.torch:TorchFlavor",
        "sklearn": "mloop.models.flavors.sklearn:SklearnFlavor",
    },
    # By the name recorded with each artifact; registered in this order (a later one claiming
    # the same type wins).
    "materializers": {
        "builtins.json": f"{_MATERIALIZERS}.values:JsonMaterializer",
        "builtins.bytes": f"{_MATERIALIZERS}.values:BytesMaterializer",
        "numpy.npy": f"{_MATERIALIZERS}.arrays:NumpyArrayMaterializer",
        "numpy.scalar": f"{_MATERIALIZERS}.arrays:NumpyScalarMaterializer",
        "polars.parquet": f"{_MATERIALIZERS}.frames:PolarsDataFrameMaterializer",
        "polars.lazyframe.parquet": f"{_MATERIALIZERS}.frames:PolarsLazyFrameMaterializer",
        "pandas.parquet": f"{_MATERIALIZERS}.frames:PandasDataFrameMaterializer",
        "pandas.series.parquet": f"{_MATERIALIZERS}.frames:PandasSeriesMaterializer",
        "arrow.parquet": f"{_MATERIALIZERS}.frames:ArrowTableMaterializer",
        "pickle": f"{_MATERIALIZERS}.pickled:PickleMaterializer",
    },
}


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def builtins(kind: str) -> dict[str, str]:
    """The built-in names of ``kind`` and their ``"module:Class"`` paths, in table order."""
    return dict(BUILTINS.get(kind, {}))


def known_names(kind: str) -> list[str]:
    """Every short name ``load(kind, ...)`` answers to: built-ins, then installed entry points."""
    names = list(BUILTINS.get(kind, {}))
    names += [ep.name for ep in entry_points(group=f"mloop.{kind}") if ep.name not in names]
    return names


def load(kind: str, name: str) -> Any:
    """The class registered as ``name`` for ``kind`` (e.g. ``load("runners", "local")``)."""
    builtin = BUILTINS.get(kind, {})
    if name in builtin:
        return _import_path(builtin[name])
    for ep in entry_points(group=f"mloop.{kind}"):
        if ep.name == name:
            return ep.load()
    if ":" in name:
        try:
            return _import_path(name)
        except (ImportError, AttributeError) as exc:
            raise BackendNotFoundError(kind, name, known_names(kind)) from exc
    raise BackendNotFoundError(kind, name, known_names(kind))


def register(kind: str, name: str, path: str) -> None:
    """Add a built-in-like short name at run time (tests, notebooks)."""
    BUILTINS.setdefault(kind, {})[name] = path
