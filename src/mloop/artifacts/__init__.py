"""Where artifact bytes live: local folders or any fsspec file system, atomically, with digests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mloop.artifacts.base import ArtifactStore, StoredObject
from mloop.artifacts.connect import connect
from mloop.artifacts.content import FolderContent, hash_folder, normalize_uri, verify

if TYPE_CHECKING:
    from mloop.artifacts.fsspec import FsspecArtifactStore
    from mloop.artifacts.local import LocalArtifactStore

__all__ = [
    "ArtifactStore",
    "FolderContent",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "StoredObject",
    "connect",
    "hash_folder",
    "normalize_uri",
    "verify",
]

_LAZY = {
    "FsspecArtifactStore": "mloop.artifacts.fsspec",
    "LocalArtifactStore": "mloop.artifacts.local",
}


def __getattr__(name: str) -> Any:
    """Import backends on first use, so ``import mloop.artifacts`` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mloop.artifacts' has no attribute {name!r}")
