"""``connect(url)``: the artifact store for a URL, chosen by scheme and cached per process."""

from __future__ import annotations

import os
import threading

from mloop import plugins
from mloop.artifacts.base import ArtifactStore
from mloop.errors import BackendNotFoundError

__all__ = ["backend_name_for", "clear_connections", "connect"]

_CACHE: dict[tuple[int, str], ArtifactStore] = {}
_LOCK = threading.Lock()


def backend_name_for(url: str) -> str:
    """The ``artifact_stores`` plugin name for ``url``: ``local`` for a plain path or ``file://``,
    the scheme itself when a plugin of that name is installed, else ``fsspec``."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme == "file":
        return "local"
    try:
        plugins.load("artifact_stores", scheme)
    except BackendNotFoundError:
        return "fsspec"
    return scheme


def connect(url: str) -> ArtifactStore:
    """The store rooted at ``url`` (created if missing), one instance per (process, url).

    Raises ``BackendNotFoundError`` when the chosen backend cannot be imported.
    """
    key = (os.getpid(), url)
    with _LOCK:
        store = _CACHE.get(key)
        if store is None:
            cls = plugins.load("artifact_stores", backend_name_for(url))
            store = cls.from_url(url)
            _CACHE[key] = store
        return store


def clear_connections() -> None:
    """Forget cached stores (tests; after changing credentials)."""
    with _LOCK:
        _CACHE.clear()
