"""The artifact store contract: where the bytes of step outputs live.

URIs given to and returned by a store are *relative* to its root (``runs/<run>/<step>/out``),
so a store can move (local folder -> S3) without rewriting the metadata. A store never lets a URI
leave its root (``UnsafePathError``). Writes are atomic: a reader sees a whole artifact or none.
Digests are hex SHA-256 of the stored bytes (for a folder, of its sorted file list and digests).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredObject:
    """What a completed write produced.

    ``uri`` is relative to the store root (normalized), ``digest`` the hex SHA-256 folder digest
    defined in :mod:`mloop.artifacts.content`, ``size`` the sum of the file sizes in bytes.
    """

    uri: str
    digest: str
    size: int


class ArtifactStore(ABC):
    """Write, read, check and delete artifacts under one root.

    Writing: :meth:`new_staging_dir` gives a fresh local folder (for a local store, on the same
    file system as the root, so publishing is a rename); a materializer writes files into it;
    :meth:`put_dir` hashes them and publishes the folder atomically at ``uri``. Reading:
    :meth:`open_local` yields a local folder with the verified content.
    """

    root: str

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> ArtifactStore:
        """A store rooted at ``url`` (a local path, ``file://``, or an fsspec URL); creates it."""

    @abstractmethod
    def new_staging_dir(self) -> Path:
        """A fresh, empty local folder to write an artifact's files into."""

    @abstractmethod
    def put_dir(self, local_dir: Path, uri: str) -> StoredObject:
        """Publish the files of ``local_dir`` atomically at ``uri`` (consuming ``local_dir``).

        Returns the digest and size. Publishing onto an existing ``uri`` (or inside or around
        another artifact) raises ``StoreError``; a uri leaving the root ``UnsafePathError``.
        """

    @abstractmethod
    def open_local(self, uri: str, *, digest: str | None = None) -> AbstractContextManager[Path]:
        """Context manager: a local folder holding the artifact. With ``digest`` the content is
        verified first and ``IntegrityError`` raised on mismatch; a missing artifact raises
        ``ArtifactNotFoundError``."""

    @abstractmethod
    def exists(self, uri: str) -> bool:
        """True when an artifact is published at ``uri`` (unfinished writes do not count)."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Remove the artifact at ``uri`` (it disappears at once); ``ArtifactNotFoundError`` if
        there is none."""

    @abstractmethod
    def iter_uris(self, prefix: str = "") -> Iterator[str]:
        """Published artifact URIs under ``prefix`` (never staging leftovers)."""

    def local_path(self, uri: str) -> Path | None:
        """The folder where the artifact at ``uri`` lives on this machine, to show people (a
        report to open); None when the store is remote or nothing is published there."""
        return None
