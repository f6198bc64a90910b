"""Content fingerprints of local input files and folders, as input artifacts of an execution.

A file's fingerprint is the SHA-256 of its bytes. Hashing is skipped when the file's size and
modification time (ns) equal those recorded with its last digest, in this process or in the
store's memo (:class:`~mloop.metadata.file_fingerprints.FileFingerprintStore`). A digest whose
file was modified less than :data:`RACY_WINDOW_NS` before it was read is not memoised, since a
second write within the file system's time resolution could keep size and mtime unchanged (the
"racy git" problem); such a file is simply hashed again next time.

A folder's fingerprint is the SHA-256 of its sorted recursive listing: relative name, size and
content digest of every file. Names starting with ``.`` (hidden files, writers' temporaries)
are left out, at any depth.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mloop._utils.clock import utc_now
from mloop._utils.hashing import digest_json, sha256_bytes, sha256_file
from mloop.errors import StoreError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact
from mloop.metadata.file_fingerprints import FileFingerprint, FileFingerprintStore

FILE_TYPE = "File"
DIRECTORY_TYPE = "Directory"
FILE_ARTIFACT_TYPES = (FILE_TYPE, DIRECTORY_TYPE)
RACY_WINDOW_NS = 2_000_000_000  # 2 s: coarser than any file system's mtime resolution


@dataclass(frozen=True)
class _Stat:
    path: str
    size: int
    mtime_ns: int


class Fingerprinter:
    """Digests of local files and folders, memoised by (size, mtime) in this process and in
    ``memo`` (None: this process only). One instance serves one run."""

    def __init__(self, memo: FileFingerprintStore | None, host: str | None = None) -> None:
        self.memo = memo
        self.host = host or socket.gethostname()
        self._known: dict[str, FileFingerprint] = {}

    def artifacts(self, paths: Mapping[str, Path]) -> dict[str, Artifact]:
        """Event name -> a ``File`` or ``Directory`` artifact for each path (which must exist)."""
        return {name: self.artifact(path) for name, path in paths.items()}

    def artifact(self, path: Path) -> Artifact:
        """The input artifact of one file or folder; its id is derived from host, path and
        digest, so the same content read again is the same artifact."""
        if path.is_dir():
            kind, (digest, size, count) = DIRECTORY_TYPE, self._folder(path)
            props: dict[str, object] = {"host": self.host, "path": str(path), "files": count}
        else:
            kind = FILE_TYPE
            stat = _stat(path)
            digest, size = self._digests([stat])[stat.path], stat.size
            props = {"host": self.host, "path": str(path)}
        uri = path.as_uri()
        return Artifact(
            id=digest_json(["file-input", self.host, uri, digest])[:32],
            type=kind,
            uri=uri,
            digest=digest,
            size=size,
            created_at=utc_now(),
            properties=props,
        )

    def _folder(self, root: Path) -> tuple[str, int, int]:
        stats: list[tuple[str, _Stat]] = []
        for folder, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                full = Path(folder) / name
                try:
                    stats.append((full.relative_to(root).as_posix(), _stat(full)))
                except FileNotFoundError:
                    continue  # removed while we listed: not part of what the step will read
        digests = self._digests([s for _, s in stats])
        listing = [[rel, s.size, digests[s.path]] for rel, s in stats]
        return digest_json(listing), sum(s.size for _, s in stats), len(stats)

    def _digests(self, stats: list[_Stat]) -> dict[str, str]:
        """Path -> SHA-256, hashing only files whose size or mtime differ from the memo."""
        result: dict[str, str] = {}
        unknown = [s for s in stats if not self._matches(self._known.get(s.path), s)]
        if unknown and self.memo is not None:
            try:
                self._known.update(self.memo.get(self.host, [s.path for s in unknown]))
            except StoreError:
                pass  # the memo is a cache: without it we only hash more
        fresh: list[FileFingerprint] = []
        now_ns = time.time_ns()
        for s in stats:
            known = self._known.get(s.path)
            if self._matches(known, s):
                result[s.path] = known.digest  # type: ignore[union-attr]
                continue
            digest = sha256_file(s.path) if s.size else sha256_bytes(b"")
            entry = FileFingerprint(s.path, s.size, s.mtime_ns, digest)
            result[s.path] = digest
            if now_ns - s.mtime_ns > RACY_WINDOW_NS:
                self._known[s.path] = entry
                fresh.append(entry)
        if fresh and self.memo is not None:
            try:
                self.memo.put(self.host, fresh)
            except StoreError:
                pass
        return result

    @staticmethod
    def _matches(known: FileFingerprint | None, stat: _Stat) -> bool:
        return known is not None and known.size == stat.size and known.mtime_ns == stat.mtime_ns


def _stat(path: Path) -> _Stat:
    st = os.stat(path)
    return _Stat(str(path), st.st_size, st.st_mtime_ns)


def fingerprinter_for(metadata: MetadataStore) -> Fingerprinter:
    """A fingerprinter memoising in ``metadata``'s fingerprint store when it has one."""
    try:
        memo: FileFingerprintStore | None = metadata.file_fingerprints()
    except StoreError:  # a store without the memo: hash in this process only
        memo = None
    return Fingerprinter(memo)
