"""The registry as the service uses it: one connection per process, cheap alias polls.

The stores are opened once (``load_settings()`` of the directory the service runs in) and kept,
so following an alias costs one indexed read per poll.
"""

from __future__ import annotations

import threading
from typing import Any

from mloop.errors import ModelNotFoundError

__all__ = ["alias_version", "load", "registry", "resolve"]

_lock = threading.Lock()
_registry: Any = None


def registry() -> Any:
    """The process's :class:`mloop.registry.ModelRegistry` on the project's default stores."""
    global _registry
    with _lock:
        if _registry is None:
            from mloop.registry import default_registry

            _registry = default_registry()
        return _registry


def reset() -> None:
    """Forget the cached registry (tests switch projects)."""
    global _registry
    with _lock:
        _registry = None


def resolve(uri: str) -> Any:
    """The ``ModelVersion`` a ``models:/`` URI names now."""
    return registry().resolve(uri)


def load(version: Any) -> Any:
    """The ``LoadedModel`` of a resolved ``ModelVersion`` (no registry read; the package is
    checked against the digest the version records)."""
    return registry().load_model(version)


def alias_version(name: str, alias: str) -> int:
    """The version behind ``name@alias`` (``ModelNotFoundError`` when the alias is unset)."""
    version = registry().alias_version(name, alias)
    if version is None:
        raise ModelNotFoundError(f"models:/{name}@{alias}", "the alias is not set")
    return int(version)
