"""``connect(url)``: the metadata store for a URL, opened once per process.

The backend is chosen by the URL's scheme (``sqlite``, ``postgresql``, or any
``mloop.metadata_stores`` entry point) through :func:`mloop.plugins.load`, so adding a backend
never edits a caller.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mloop import plugins
from mloop.errors import ConfigError
from mloop.metadata.base import MetadataStore

_cache: dict[tuple[int, str], MetadataStore] = {}
_lock = threading.Lock()


def connect(url: str, *, migrate: bool = True) -> MetadataStore:
    """The store at ``url``, opened (and created or migrated when ``migrate``) on first use in
    this process, then reused. A SQLite file's parent folder is created when missing."""
    key = (os.getpid(), url)  # a forked child must not reuse its parent's connections
    with _lock:
        store = _cache.get(key)
        if store is not None and not getattr(store, "closed", False):
            return store
        scheme = _scheme(url)
        if scheme == "sqlite":
            _make_parent(url)
        store = plugins.load("metadata_stores", scheme).open(url, migrate=migrate)
        _cache[key] = store
        return store


def disconnect_all() -> None:
    """Close every store this process opened through :func:`connect` (tests, forks)."""
    with _lock:
        for (pid, _), store in list(_cache.items()):
            if pid == os.getpid():
                store.close()
        _cache.clear()


def _scheme(url: str) -> str:
    head, sep, _ = url.partition(":")
    if not sep or not head:
        raise ConfigError(
            f"metadata URL {url!r} has no scheme; use sqlite:///path/to/mloop.db or "
            "postgresql+psycopg://user@host/db"
        )
    return head.split("+", 1)[0].lower()


def _make_parent(url: str) -> None:
    path = url.split("://", 1)[1] if "://" in url else ""
    path = path[1:] if path.startswith("/") else path  # sqlite:///rel or sqlite:////abs
    path = path.split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
