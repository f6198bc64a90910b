"""A memo of file content digests: (host, absolute path) -> size, mtime and SHA-256 last seen.

Pipelines put the content of the local files a step reads into its cache key (issue 15). Hashing
a large unchanged file on every step would cost seconds, so the digest is kept here with the
size and modification time (ns) it was computed for; while both are unchanged the digest is
reused. The memo is a cache: losing a row only costs one re-hash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FileFingerprint:
    """What a file's bytes looked like: ``size`` in bytes, ``mtime_ns``, hex SHA-256 ``digest``."""

    path: str  # absolute
    size: int
    mtime_ns: int
    digest: str


class FileFingerprintStore(ABC):
    """Fingerprints keyed by host name and absolute path (a path means nothing on another host)."""

    @abstractmethod
    def get(self, host: str, paths: Sequence[str]) -> dict[str, FileFingerprint]:
        """The known fingerprints of ``paths`` on ``host`` (missing paths are left out)."""

    @abstractmethod
    def put(self, host: str, fingerprints: Iterable[FileFingerprint]) -> None:
        """Record (or replace) fingerprints on ``host``."""
