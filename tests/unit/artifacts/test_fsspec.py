"""FsspecArtifactStore behaviour beyond the contract: the completion marker, temp folders."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from mloop._utils.ids import new_id
from mloop.artifacts.content import MARKER_NAME
from mloop.artifacts.fsspec import STAGING_PREFIX, FsspecArtifactStore
from mloop.errors import ArtifactNotFoundError, IntegrityError, UnsafePathError


@pytest.fixture
def store() -> Iterator[FsspecArtifactStore]:
    url = f"memory://fsspec-unit-{new_id()}"
    yield FsspecArtifactStore.from_url(url)
    fs, base = fsspec.core.url_to_fs(url)
    fs.rm(base, recursive=True)


def _put(store: FsspecArtifactStore, uri: str, files: dict[str, bytes]):
    folder = store.new_staging_dir()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return store.put_dir(folder, uri), folder


def test_constructor_does_no_io() -> None:
    store = FsspecArtifactStore("memory://never-made")
    assert store._fs is None


def test_upload_without_marker_is_invisible_then_replaced(store: FsspecArtifactStore) -> None:
    fs, base = fsspec.core.url_to_fs(store.root)
    fs.pipe_file(f"{base}/half/data.bin", b"partial upload")  # a writer died before the marker
    assert not store.exists("half")
    assert list(store.iter_uris()) == []
    with pytest.raises(ArtifactNotFoundError), store.open_local("half"):
        pass
    obj, _ = _put(store, "half", {"new.bin": b"complete"})
    with store.open_local("half", digest=obj.digest) as folder:
        assert sorted(p.name for p in folder.iterdir()) == ["new.bin"]


def test_staging_and_downloads_are_temporary(store: FsspecArtifactStore) -> None:
    _, staged = _put(store, "a", {"f": b"x"})
    assert staged.name.startswith(STAGING_PREFIX) and not staged.exists()
    with store.open_local("a") as folder:
        assert (folder / "f").read_bytes() == b"x"
        assert not (folder / MARKER_NAME).exists()
    assert not folder.exists()


def test_without_digest_the_recorded_digest_is_checked(store: FsspecArtifactStore) -> None:
    _put(store, "a", {"f": b"x"})
    fs, base = fsspec.core.url_to_fs(store.root)
    fs.pipe_file(f"{base}/a/f", b"y")
    with pytest.raises(IntegrityError), store.open_local("a"):
        pass


def test_delete_removes_the_marker_first(store: FsspecArtifactStore) -> None:
    _put(store, "a", {"f": b"x"})
    store.delete("a")
    fs, base = fsspec.core.url_to_fs(store.root)
    assert not fs.exists(f"{base}/a")


def test_file_url_symlink_escape_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = FsspecArtifactStore.from_url(f"file://{root}")
    (tmp_path / "outside").mkdir()
    (root / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(UnsafePathError):
        store.exists("escape/x")


def test_gc_staging_removes_old_temp_folders(store: FsspecArtifactStore) -> None:
    folder = store.new_staging_dir()
    fresh = store.new_staging_dir()
    old = time.time() - 10 * 24 * 3600
    os.utime(folder, (old, old))
    assert store.gc_staging(older_than_s=9 * 24 * 3600) >= 1
    assert not folder.exists() and fresh.exists()
    fresh.rmdir()
