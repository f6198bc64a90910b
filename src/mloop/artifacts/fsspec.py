"""An artifact store on any fsspec file system (``s3://``, ``gs://``, ``memory://``, ``file://``).

Atomicity on object stores: a rename there is a copy and a delete, neither atomic nor cheap, so
this store publishes by writing a **completion marker last**. ``put_dir`` uploads the data files
to ``<root>/<uri>/`` and then writes ``<uri>/.mloop-artifact.json`` (digest, size, file list) in
one final PUT. A folder without the marker is invisible: :meth:`exists` is false, :meth:`iter_uris`
skips it, :meth:`open_local` raises ``ArtifactNotFoundError``, and the next ``put_dir`` at that
uri clears it. Deleting removes the marker first. Two writers racing for the *same* uri are not
serialized (object stores have no portable create-if-absent); uris carry run ids, so they do
not collide in practice, and a mixed result would fail digest verification rather than load.

Staging folders are local temp folders; :meth:`open_local` downloads into a temp folder that is
removed when the context exits, and always verifies the download (against ``digest`` when given,
else against the digest the marker recorded), since the bytes crossed a network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from mloop.artifacts.base import ArtifactStore, StoredObject
from mloop.artifacts.content import (
    MARKER_NAME,
    FolderContent,
    hash_folder,
    normalize_uri,
    verify,
)
from mloop.errors import ArtifactNotFoundError, StoreError, UnsafePathError

__all__ = ["FsspecArtifactStore", "FsspecArtifactStoreConfig"]

STAGING_PREFIX = "mloop-staging-"  # local temp folders made by new_staging_dir


class FsspecArtifactStoreConfig(BaseModel):
    """Settings of a :class:`FsspecArtifactStore`: ``url`` is any fsspec URL."""

    type: Literal["fsspec"] = "fsspec"
    url: str


class FsspecArtifactStore(ArtifactStore):
    """Artifacts as folders under an fsspec URL, published by writing a marker last."""

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.root = url
        self.storage_options = dict(storage_options or {})
        self._fs: Any = None
        self._base = ""

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> FsspecArtifactStore:
        """A store rooted at ``url``; creates the root folder where the file system has folders."""
        store = cls(url, storage_options=storage_options)
        store._filesystem().makedirs(store._base, exist_ok=True)
        return store

    @classmethod
    def from_config(cls, config: FsspecArtifactStoreConfig) -> FsspecArtifactStore:
        """A store built from its config."""
        return cls.from_url(config.url)

    # -- paths -------------------------------------------------------------------------------

    def _filesystem(self) -> Any:
        if self._fs is None:
            import fsspec  # optional-backend import stays inside the backend

            fs, base = fsspec.core.url_to_fs(self.root, **self.storage_options)
            self._fs, self._base = fs, base.rstrip("/")
        return self._fs

    def _is_local_fs(self) -> bool:
        protocol = self._filesystem().protocol
        protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
        return "file" in protocols or "local" in protocols

    def _remote(self, uri: str) -> tuple[str, str]:
        """The normalized uri and its full path on the file system; refuses escapes."""
        norm = normalize_uri(uri, self.root)
        self._filesystem()
        remote = f"{self._base}/{norm}"
        if self._is_local_fs():
            real_base = os.path.realpath(self._base)
            real = os.path.realpath(remote)
            if os.path.commonpath([real_base, real]) != real_base:
                raise UnsafePathError(uri, self.root)
        return norm, remote

    # -- ArtifactStore -----------------------------------------------------------------------

    def new_staging_dir(self) -> Path:
        """A fresh local temp folder (uploaded by :meth:`put_dir`)."""
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))

    def put_dir(self, local_dir: Path, uri: str) -> StoredObject:
        """Upload ``local_dir``'s files to ``<uri>/``, then the marker; ``local_dir`` is removed.

        Raises ``StoreError`` when ``uri`` is already published or sits inside an artifact.
        """
        local_dir = Path(local_dir)
        try:
            norm, remote = self._remote(uri)
            if not local_dir.is_dir():
                raise StoreError(f"cannot publish {local_dir}: not a folder; write files into one")
            fs = self._filesystem()
            self._refuse_taken(norm, remote)
            content = hash_folder(local_dir)
            if fs.exists(remote):  # an unfinished upload (no marker): clear it first
                fs.rm(remote, recursive=True)
            for entry in content.files:
                target = f"{remote}/{entry.path}"
                fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                fs.put_file(str(local_dir / entry.path), target)
            fs.makedirs(remote, exist_ok=True)
            fs.pipe_file(f"{remote}/{MARKER_NAME}", content.to_json())
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        return StoredObject(uri=norm, digest=content.digest, size=content.size)

    def open_local(
        self, uri: str, *, digest: str | None = None
    ) -> contextlib.AbstractContextManager[Path]:
        """Download the artifact into a temp folder, verify it, yield it, remove it on exit."""
        return self._open(uri, digest)

    @contextlib.contextmanager
    def _open(self, uri: str, digest: str | None) -> Iterator[Path]:
        norm, remote = self._remote(uri)
        fs = self._filesystem()
        try:
            recorded = FolderContent.from_json(fs.cat_file(f"{remote}/{MARKER_NAME}"))
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(norm, f"no published artifact under {self.root}") from exc
        tmp = Path(tempfile.mkdtemp(prefix="mloop-download-"))
        try:
            prefix = remote.rstrip("/") + "/"
            for path in fs.find(remote):
                rel = path[len(prefix) :] if path.startswith(prefix) else path.lstrip("/")
                if rel == MARKER_NAME:
                    continue
                local = tmp / rel
                local.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(path, str(local))
            verify(tmp, digest if digest is not None else recorded.digest, norm)
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def exists(self, uri: str) -> bool:
        """True when ``uri`` has a completion marker."""
        _, remote = self._remote(uri)
        return self._fresh_exists(f"{remote}/{MARKER_NAME}")

    def delete(self, uri: str) -> None:
        """Remove the marker (the artifact disappears at once), then its files.

        Raises ``ArtifactNotFoundError`` when there is none.
        """
        norm, remote = self._remote(uri)
        fs = self._filesystem()
        marker = f"{remote}/{MARKER_NAME}"
        # S3 answers a DELETE of a missing key with success: ask first.
        if not self._fresh_exists(marker):
            raise ArtifactNotFoundError(norm, f"no published artifact under {self.root}")
        try:
            fs.rm_file(marker)
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(norm, f"no published artifact under {self.root}") from exc
        if fs.exists(remote):
            fs.rm(remote, recursive=True)

    def iter_uris(self, prefix: str = "") -> Iterator[str]:
        """Published URIs, sorted, equal to ``prefix`` or below it (whole segments)."""
        fs = self._filesystem()
        if prefix.strip("/"):
            _, start = self._remote(prefix)
        else:
            start = self._base
        fs.invalidate_cache(start)  # another process may have published since we listed
        if not fs.exists(start):
            return
        base = self._base.rstrip("/") + "/"
        found = []
        for path in fs.find(start):
            head, _, name = path.rpartition("/")
            if name == MARKER_NAME and head.startswith(base.rstrip("/")):
                found.append(head[len(base) :])
        yield from sorted(found)

    # -- maintenance -------------------------------------------------------------------------

    def gc_staging(self, older_than_s: float = 3600.0) -> int:
        """Delete this machine's staging temp folders older than ``older_than_s`` seconds."""
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*"):
            try:
                if entry.is_dir() and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- internals ---------------------------------------------------------------------------

    def _fresh_exists(self, path: str) -> bool:
        """``fs.exists`` without trusting the listing cache of s3fs/gcsfs: other processes
        (a cluster's workers) publish behind this instance's back."""
        fs = self._filesystem()
        fs.invalidate_cache(path)
        return bool(fs.exists(path))

    def _refuse_taken(self, norm: str, remote: str) -> None:
        fs = self._filesystem()
        fs.invalidate_cache(remote)
        if self._fresh_exists(f"{remote}/{MARKER_NAME}"):
            raise StoreError(
                f"an artifact already exists at {norm!r} in {self.root}; artifacts are "
                "immutable: write to a new uri or delete the old one first"
            )
        parts = norm.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if fs.exists(f"{self._base}/{parent}/{MARKER_NAME}"):
                raise StoreError(
                    f"cannot publish {norm!r}: it would sit inside the artifact {parent!r}; "
                    "choose a uri outside it"
                )
        if fs.exists(remote) and any(p.rpartition("/")[2] == MARKER_NAME for p in fs.find(remote)):
            raise StoreError(
                f"cannot publish {norm!r} in {self.root}: that path already holds other "
                "artifacts; choose a uri that is not a parent of existing ones"
            )
