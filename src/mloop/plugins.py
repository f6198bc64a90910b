"""Backend lookup: one mechanism for every kind of pluggable backend.

``load(kind, name)`` resolves, in order: a built-in short name, an installed entry point in the
group ``mloop.<kind>``, then a dotted path ``package.module:Class``. Built-ins are strings, imported
only when asked for, so ``import mloop`` never pulls in Redis, Ray or a database driver.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from mloop.errors import BackendNotFoundError

BUILTINS: dict[str, dict[str, str]] = {
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
}


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


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
            raise BackendNotFoundError(kind, name, list(builtin)) from exc
    raise BackendNotFoundError(kind, name, list(builtin))


def register(kind: str, name: str, path: str) -> None:
    """Add a built-in-like short name at run time (tests, notebooks)."""
    BUILTINS.setdefault(kind, {})[name] = path
