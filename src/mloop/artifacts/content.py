"""The content layer shared by every artifact store: safe URIs, folder digests, verification.

Folder digest (the ``digest`` of every stored artifact), defined once here:

1. List every regular file under the folder, recursively, except the store's marker file
   :data:`MARKER_NAME` at the top level. Each file gives an entry
   ``[relative_path, sha256_hex, size_bytes]`` where ``relative_path`` uses ``/`` separators.
2. Sort the entries by ``relative_path`` (Python ``str`` order, i.e. by code point).
3. The digest is the hex SHA-256 of the compact JSON array of those entries, as written by
   ``orjson.dumps``: UTF-8, no spaces, non-ASCII not escaped, e.g.
   ``[["data.parquet","ab12...",1048576]]``.

The folder ``size`` is the sum of the file sizes in bytes. An empty folder has the digest of
``[]``. Files are read in 1 MiB chunks. Symlinks and other non-regular files are refused, so a
digest always describes bytes that live inside the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import orjson

from mloop.errors import IntegrityError, StoreError, UnsafePathError

__all__ = [
    "MARKER_NAME",
    "STAGING_DIR_NAME",
    "FileEntry",
    "FolderContent",
    "hash_file",
    "hash_folder",
    "manifest_digest",
    "normalize_uri",
    "verify",
]

CHUNK_BYTES = 1 << 20  # bytes read per chunk when hashing (1 MiB)
MARKER_NAME = ".mloop-artifact.json"  # written inside a published artifact; excluded from digest
STAGING_DIR_NAME = ".staging"  # reserved first URI segment: a local store's staging area
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: ``path`` relative to the folder (``/``-separated), hex SHA-256,
    ``size`` in bytes."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class FolderContent:
    """The digest, total ``size`` (bytes) and sorted file entries of an artifact folder."""

    digest: str
    size: int
    files: tuple[FileEntry, ...]

    def to_json(self) -> bytes:
        """Canonical JSON of this content (what the marker file holds)."""
        return orjson.dumps(
            {
                "format": 1,
                "digest": self.digest,
                "size": self.size,
                "files": [[f.path, f.sha256, f.size] for f in self.files],
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> FolderContent:
        """Parse what :meth:`to_json` wrote."""
        raw = orjson.loads(data)
        files = tuple(FileEntry(p, h, s) for p, h, s in raw["files"])
        return cls(digest=raw["digest"], size=raw["size"], files=files)


def normalize_uri(uri: str, root: str = "<store root>") -> str:
    """The canonical form of a relative artifact URI, or ``UnsafePathError``.

    Refused: an empty URI, an absolute path, a drive (``C:``) or any ``:`` (so no URL scheme),
    a backslash, a NUL or other control character, a ``..`` segment, a segment starting with
    ``~``, the reserved first segment ``.staging`` and the marker name. Empty and ``.`` segments
    are dropped (``a//./b`` -> ``a/b``). Pure string work: symlinks are checked by the store.
    """
    if not isinstance(uri, str) or not uri:
        raise UnsafePathError(str(uri), root)
    if any(ord(c) < 0x20 or c == "\x7f" for c in uri) or "\\" in uri or ":" in uri:
        raise UnsafePathError(uri, root)
    if uri.startswith("/") or _DRIVE.match(uri):
        raise UnsafePathError(uri, root)
    parts = [p for p in uri.split("/") if p not in ("", ".")]
    if not parts or parts[0] == STAGING_DIR_NAME:
        raise UnsafePathError(uri, root)
    for part in parts:
        if part == ".." or part.startswith("~") or part == MARKER_NAME:
            raise UnsafePathError(uri, root)
    return "/".join(parts)


def hash_file(path: Path, *, fsync: bool = False) -> tuple[str, int]:
    """Hex SHA-256 and size (bytes) of a file, read in 1 MiB chunks; ``fsync`` flushes it to disk
    through the same descriptor (one open per file)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK_BYTES)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
            size += n
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest(), size


def _iter_files(folder: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames:
            if os.path.islink(base / name):
                raise StoreError(
                    f"artifact folder {folder} contains a symlink {base / name}; "
                    "write real files into the staging folder"
                )
        for name in filenames:
            path = base / name
            rel = PurePosixPath(path.relative_to(folder).as_posix()).as_posix()
            if rel == MARKER_NAME:
                continue
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                raise StoreError(
                    f"artifact folder {folder} holds {rel!r}, which is not a regular file "
                    "(symlink, socket, ...); write real files into the staging folder"
                )
            found.append((rel, path))
    found.sort(key=lambda item: item[0])
    return found


def manifest_digest(files: tuple[FileEntry, ...] | list[FileEntry]) -> str:
    """Hex SHA-256 of the compact JSON array of sorted ``[path, sha256, size]`` entries."""
    ordered = sorted(files, key=lambda f: f.path)
    payload = orjson.dumps([[f.path, f.sha256, f.size] for f in ordered])
    return hashlib.sha256(payload).hexdigest()


def hash_folder(folder: Path, *, fsync: bool = False) -> FolderContent:
    """The :class:`FolderContent` of ``folder`` (see the module docstring for the definition)."""
    entries = []
    for rel, path in _iter_files(folder):
        sha, size = hash_file(path, fsync=fsync)
        entries.append(FileEntry(rel, sha, size))
    files = tuple(entries)
    return FolderContent(manifest_digest(files), sum(f.size for f in files), files)


def verify(folder: Path, expected: str, uri: str) -> FolderContent:
    """Hash ``folder`` and raise ``IntegrityError`` unless its digest is ``expected``.

    Any changed, added or removed file changes the digest.
    """
    content = hash_folder(folder)
    if content.digest != expected:
        raise IntegrityError(uri, expected, content.digest)
    return content
