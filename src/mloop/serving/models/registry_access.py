"""The registry as the service uses it: one connection per process, cheap alias polls.

The stores are opened once (``load_settings()`` of the directory the service runs in) and kept,
so following an alias costs one indexed read per poll. The kept registry is dropped when what
``load_settings()`` reads changed (the working directory, an ``MLOOP_*`` variable, the process)
or its metadata store was closed: a process that moves between projects (a notebook, a test
session) must never resolve a model in the previous project's store, or in a closed one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mloop.errors import ModelNotFoundError

__all__ = ["alias_version", "load", "registry", "resolve"]

_lock = threading.Lock()
_registry: Any = None
_made_for: tuple[object, ...] | None = None  # the context _registry was made in


def _context() -> tuple[object, ...]:
    """What ``load_settings()`` depends on, cheaply: process, working directory, MLOOP_*."""
    mloop_vars = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MLOOP_")))
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working directory was removed: keep what was made before
        previous = _made_for[1] if _made_for is not None else None
        cwd = previous if isinstance(previous, str) else None
    return os.getpid(), cwd, mloop_vars


def registry() -> Any:
    """The process's :class:`mloop.registry.ModelRegistry` on the project's default stores."""
    global _registry, _made_for
    with _lock:
        context = _context()
        stale = _registry is not None and (
            context != _made_for or getattr(_registry.store, "closed", False)
        )
        if _registry is None or stale:
            from mloop.registry import default_registry

            _registry, _made_for = default_registry(), context
        return _registry


def reset() -> None:
    """Forget the cached registry (it is also dropped by itself when stale; see above)."""
    global _registry, _made_for
    with _lock:
        _registry = _made_for = None


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
