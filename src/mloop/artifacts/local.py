"""The default artifact store: a folder on the local file system.

Layout under the root: each artifact is a folder ``<root>/<uri>/`` holding its files and a marker
``.mloop-artifact.json`` (digest, size, file list). Staging folders live in ``<root>/.staging/``, on
the same file system, so publishing is one ``os.rename`` of a complete folder: a reader, or a
crash, sees the whole artifact or nothing. The marker is written into the staging folder before
the rename, so "has a marker" is exactly "was published"; anything else under the root (staging
leftovers, empty parents) is invisible to :meth:`exists` and :meth:`iter_uris`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from mloop._utils.ids import new_id
from mloop.artifacts.base import ArtifactStore, StoredObject
from mloop.artifacts.content import (
    MARKER_NAME,
    STAGING_DIR_NAME,
    FolderContent,
    hash_folder,
    normalize_uri,
    verify,
)
from mloop.errors import ArtifactNotFoundError, StoreError, UnsafePathError

__all__ = ["LocalArtifactStore", "LocalArtifactStoreConfig"]

_PUBLISH_ATTEMPTS = 3  # retries when a concurrent delete removes a parent folder mid-publish


class LocalArtifactStoreConfig(BaseModel):
    """Settings of a :class:`LocalArtifactStore`: ``root`` is a folder path or ``file://`` URL."""

    type: Literal["local"] = "local"
    root: str = ".mloop/artifacts"
    durable: bool = False


def _path_from_url(url: str) -> Path:
    if url.startswith("file://"):
        url = url[len("file://") :]
    return Path(url).expanduser().absolute()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalArtifactStore(ArtifactStore):
    """Artifacts as folders under a local ``root``; publishing is an atomic folder rename."""

    def __init__(self, root: str | Path, *, durable: bool = False) -> None:
        self.root = str(root)
        self._root = Path(root)
        # Atomic rename alone survives a killed process; fsync (about 4 ms a call on our
        # machines) is only needed to survive a power cut, so it is opt-in.
        self.durable = durable

    @classmethod
    def from_url(cls, url: str) -> LocalArtifactStore:
        """A store rooted at a local path or ``file://`` URL; creates the folder."""
        root = _path_from_url(url)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root.resolve())

    @classmethod
    def from_config(cls, config: LocalArtifactStoreConfig) -> LocalArtifactStore:
        """A store built from its config (creates the root folder)."""
        store = cls.from_url(config.root)
        store.durable = config.durable
        return store

    # -- paths -------------------------------------------------------------------------------

    def _path(self, uri: str) -> tuple[str, Path]:
        """The normalized uri and its absolute path; refuses anything leaving the root."""
        norm = normalize_uri(uri, self.root)
        root = self._root.resolve()
        path = root / norm
        if not path.resolve().is_relative_to(root):  # a symlink on the way points outside
            raise UnsafePathError(uri, self.root)
        return norm, path

    @property
    def _staging_root(self) -> Path:
        return self._root / STAGING_DIR_NAME

    # -- ArtifactStore -----------------------------------------------------------------------

    def new_staging_dir(self) -> Path:
        """A fresh folder under ``<root>/.staging/`` (same file system as the artifacts)."""
        path = self._staging_root / new_id()
        path.mkdir(parents=True)
        return path

    def put_dir(self, local_dir: Path, uri: str) -> StoredObject:
        """Hash the files of ``local_dir`` (fsync them when ``durable``), then rename it to
        ``<root>/<uri>``.

        ``local_dir`` is consumed (moved, or copied then removed when it is not one of this
        store's staging folders). Raises ``StoreError`` when ``uri`` already exists or would sit
        inside another artifact, ``UnsafePathError`` when it leaves the root.
        """
        norm, final = self._path(uri)
        local_dir = Path(local_dir)
        if not local_dir.is_dir():
            raise StoreError(f"cannot publish {local_dir}: not a folder; write files into one")
        staging = self._adopt(local_dir)
        try:
            content = hash_folder(staging, fsync=self.durable)
            self._write_marker(staging, content, durable=self.durable)
            self._publish(staging, final, norm)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return StoredObject(uri=norm, digest=content.digest, size=content.size)

    def open_local(
        self, uri: str, *, digest: str | None = None
    ) -> contextlib.AbstractContextManager[Path]:
        """The artifact's own folder (no copy), verified against ``digest`` when given.

        Callers must not modify the folder. Raises ``ArtifactNotFoundError`` or ``IntegrityError``.
        """
        return self._open(uri, digest)

    @contextlib.contextmanager
    def _open(self, uri: str, digest: str | None) -> Iterator[Path]:
        norm, path = self._path(uri)
        if not (path / MARKER_NAME).is_file():
            raise ArtifactNotFoundError(norm, f"no published artifact under {self.root}")
        if digest is not None:
            verify(path, digest, norm)
        yield path

    def exists(self, uri: str) -> bool:
        """True when an artifact was published at ``uri`` (and not deleted)."""
        _, path = self._path(uri)
        return (path / MARKER_NAME).is_file()

    def local_path(self, uri: str) -> Path | None:
        """The artifact's own folder (absolute), or None when none is published at ``uri``."""
        _, path = self._path(uri)
        return path if (path / MARKER_NAME).is_file() else None

    def delete(self, uri: str) -> None:
        """Remove the artifact at ``uri`` atomically (rename away, then delete the files).

        Raises ``ArtifactNotFoundError`` when there is none.
        """
        norm, path = self._path(uri)
        if not (path / MARKER_NAME).is_file():
            raise ArtifactNotFoundError(norm, f"no published artifact under {self.root}")
        trash = self._staging_root / f"deleted-{new_id()}"
        self._staging_root.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, trash)
        except FileNotFoundError as exc:  # a concurrent delete won
            raise ArtifactNotFoundError(norm, "deleted concurrently") from exc
        shutil.rmtree(trash, ignore_errors=True)
        self._remove_empty_parents(path.parent)

    def iter_uris(self, prefix: str = "") -> Iterator[str]:
        """Published URIs, sorted, equal to ``prefix`` or below it (whole segments: ``runs/r1``
        does not match ``runs/r10``)."""
        root = self._root.resolve()
        if prefix.strip("/"):
            _, start = self._path(prefix)
        else:
            start = root
        if not start.is_dir():
            return
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            here = Path(dirpath)
            if MARKER_NAME in filenames:
                found.append(here.relative_to(root).as_posix())
                dirnames[:] = []
                continue
            if here == root:
                dirnames[:] = [d for d in dirnames if d != STAGING_DIR_NAME]
            dirnames.sort()
        yield from sorted(found)

    # -- maintenance -------------------------------------------------------------------------

    def gc_staging(self, older_than_s: float = 3600.0) -> int:
        """Delete staging leftovers (from crashed writers) not modified for ``older_than_s``
        seconds; returns how many were removed."""
        if not self._staging_root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in self._staging_root.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- internals ---------------------------------------------------------------------------

    def _adopt(self, local_dir: Path) -> Path:
        """``local_dir`` if it is one of our staging folders, else a staging copy of it."""
        staging_root = self._staging_root.resolve()
        if local_dir.resolve().parent == staging_root:
            return local_dir
        staging = self._staging_root / new_id()
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(local_dir, staging, symlinks=True)
        shutil.rmtree(local_dir)
        return staging

    @staticmethod
    def _write_marker(staging: Path, content: FolderContent, *, durable: bool) -> None:
        marker = staging / MARKER_NAME
        with open(marker, "wb") as f:
            f.write(content.to_json())
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if durable:
            _fsync_dir(staging)

    def _publish(self, staging: Path, final: Path, norm: str) -> None:
        root = self._root.resolve()
        for parent in final.parents:
            if not parent.is_relative_to(root) or parent == root:
                break
            if (parent / MARKER_NAME).exists():
                raise StoreError(
                    f"cannot publish {norm!r}: it would sit inside the artifact "
                    f"{parent.relative_to(root).as_posix()!r}; choose a uri outside it"
                )
        for attempt in range(_PUBLISH_ATTEMPTS):
            final.parent.mkdir(parents=True, exist_ok=True)
            if not final.parent.resolve().is_relative_to(root):
                raise UnsafePathError(norm, self.root)
            try:
                os.rename(staging, final)  # fails on a non-empty target: no overwrite
                break
            except FileNotFoundError:
                if attempt == _PUBLISH_ATTEMPTS - 1:
                    raise
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
                if (final / MARKER_NAME).exists():
                    raise StoreError(
                        f"an artifact already exists at {norm!r} in {self.root}; artifacts are "
                        "immutable: write to a new uri or delete the old one first"
                    ) from exc
                raise StoreError(
                    f"cannot publish {norm!r} in {self.root}: that path already holds other "
                    "artifacts or files; choose a uri that is not a parent of existing ones"
                ) from exc
        if self.durable:
            _fsync_dir(final.parent)

    def _remove_empty_parents(self, folder: Path) -> None:
        root = self._root.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
