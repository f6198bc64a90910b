"""The content layer: URI normalization and the folder digest definition."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from mloop.artifacts.content import (
    CHUNK_BYTES,
    MARKER_NAME,
    FolderContent,
    hash_file,
    hash_folder,
    normalize_uri,
    verify,
)
from mloop.errors import IntegrityError, StoreError, UnsafePathError
from mloop.testing.artifact_contracts import MALICIOUS_URIS


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("a", "a"),
        ("a/b/c", "a/b/c"),
        ("a//b/", "a/b"),
        ("./a/./b", "a/b"),
        ("runs/01J/x.y", "runs/01J/x.y"),
    ],
)
def test_normalize_keeps_safe_uris(uri: str, expected: str) -> None:
    assert normalize_uri(uri) == expected


@pytest.mark.parametrize("uri", [*MALICIOUS_URIS, "a/\x01b", "a/~b/../c", "..."[:2] + "/a"])
def test_normalize_refuses_unsafe_uris(uri: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        normalize_uri(uri, "/root")
    assert info.value.root == "/root"


def test_normalize_refuses_non_strings() -> None:
    with pytest.raises(UnsafePathError):
        normalize_uri(None)  # type: ignore[arg-type]


def test_hash_file_matches_hashlib_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_BYTES + 17)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    assert hash_file(path, fsync=True)[0] == hashlib.sha256(data).hexdigest()


def test_folder_digest_follows_its_written_definition(tmp_path: Path) -> None:
    files = {"b.txt": b"bee", "a/z.bin": b"\x00" * 10, "a/c.txt": b""}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    (tmp_path / MARKER_NAME).write_bytes(b"ignored")
    entries = sorted([rel, hashlib.sha256(d).hexdigest(), len(d)] for rel, d in files.items())
    expected = hashlib.sha256(json.dumps(entries, separators=(",", ":")).encode()).hexdigest()
    content = hash_folder(tmp_path)
    assert content.digest == expected
    assert content.size == sum(len(d) for d in files.values())
    assert [f.path for f in content.files] == ["a/c.txt", "a/z.bin", "b.txt"]
    assert FolderContent.from_json(content.to_json()) == content


def test_empty_folder_digest(tmp_path: Path) -> None:
    assert hash_folder(tmp_path).digest == hashlib.sha256(b"[]").hexdigest()


def test_moving_bytes_between_files_changes_the_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, (a, b) in [(one, (b"ab", b"c")), (two, (b"a", b"bc"))]:
        folder.mkdir()
        (folder / "x").write_bytes(a)
        (folder / "y").write_bytes(b)
    assert hash_folder(one).digest != hash_folder(two).digest


def test_verify(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    good = hash_folder(tmp_path).digest
    assert verify(tmp_path, good, "u").digest == good
    (tmp_path / "g").write_bytes(b"")
    with pytest.raises(IntegrityError) as info:
        verify(tmp_path, good, "u")
    assert (info.value.uri, info.value.expected) == ("u", good)


def test_symlinks_are_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(StoreError, match="not a regular file"):
        hash_folder(tmp_path)


def test_symlinked_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "dirlink").symlink_to(tmp_path / "sub", target_is_directory=True)
    with pytest.raises(StoreError, match="symlink"):
        hash_folder(tmp_path)
