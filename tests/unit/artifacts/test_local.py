"""LocalArtifactStore behaviour beyond the shared contract: symlinks, crashes, staging, fsync."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mloop.artifacts import local as local_module
from mloop.artifacts.content import MARKER_NAME, STAGING_DIR_NAME
from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import ArtifactNotFoundError, StoreError, UnsafePathError


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore.from_url(str(tmp_path / "root"))


def _staged(store: LocalArtifactStore, files: dict[str, bytes]) -> Path:
    folder = store.new_staging_dir()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def test_constructor_does_no_io(tmp_path: Path) -> None:
    LocalArtifactStore(tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_staging_is_under_the_root(store: LocalArtifactStore) -> None:
    folder = store.new_staging_dir()
    assert folder.parent == Path(store.root) / STAGING_DIR_NAME
    assert folder.is_dir() and not any(folder.iterdir())
    assert store.new_staging_dir() != folder


def test_open_local_yields_the_stored_folder_itself(store: LocalArtifactStore) -> None:
    obj = store.put_dir(_staged(store, {"f": b"1"}), "a/b")
    with store.open_local("a/b", digest=obj.digest) as folder:
        assert folder == Path(store.root) / "a" / "b"
        assert (folder / MARKER_NAME).is_file()


def test_symlink_escaping_the_root_is_refused(store: LocalArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(store.root) / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        store.put_dir(_staged(store, {"f": b"x"}), "escape/x")
    with pytest.raises(UnsafePathError):
        store.exists("escape/x")
    assert not any(outside.iterdir())


def test_symlink_inside_the_root_is_allowed(store: LocalArtifactStore) -> None:
    (Path(store.root) / "real").mkdir()
    (Path(store.root) / "alias").symlink_to(Path(store.root) / "real", target_is_directory=True)
    store.put_dir(_staged(store, {"f": b"x"}), "alias/a")
    assert store.exists("real/a")


def test_crash_before_rename_leaves_nothing_visible(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: object, dst: object) -> None:
        raise OSError(5, "simulated crash")

    monkeypatch.setattr(local_module.os, "rename", crash)
    with pytest.raises(OSError, match="simulated"):
        store.put_dir(_staged(store, {"f": b"x"}), "c")
    monkeypatch.undo()
    assert not store.exists("c")
    assert list(store.iter_uris()) == []
    assert not any((Path(store.root) / STAGING_DIR_NAME).iterdir())  # staging cleaned


def test_killed_writer_leftovers_are_invisible_and_collected(store: LocalArtifactStore) -> None:
    leftover = _staged(store, {"half.parquet": b"\x00" * 100})
    (leftover / MARKER_NAME).write_bytes(b"{}")  # even a marker in staging is not published
    fresh = _staged(store, {"f": b"x"})
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert list(store.iter_uris()) == []
    assert store.gc_staging(older_than_s=3600) == 1
    assert not leftover.exists() and fresh.exists()
    assert store.gc_staging(older_than_s=0) == 1


def test_gc_staging_without_staging_folder(tmp_path: Path) -> None:
    assert LocalArtifactStore.from_url(str(tmp_path / "r")).gc_staging() == 0


@pytest.mark.parametrize("durable", [True, False])
def test_files_are_fsynced_only_when_durable(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    import mloop.artifacts.content as content_module

    monkeypatch.setattr(content_module.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    store.durable = durable
    store.put_dir(_staged(store, {"a": b"1", "b": b"2"}), "s")
    if durable:
        assert len(synced) >= 5  # two files, the marker, the staging folder, the parent folder
    else:
        assert synced == []  # atomic rename is enough against a killed process


def test_put_dir_adopts_a_foreign_folder(store: LocalArtifactStore, tmp_path: Path) -> None:
    foreign = tmp_path / "elsewhere"
    foreign.mkdir()
    (foreign / "f").write_bytes(b"data")
    obj = store.put_dir(foreign, "adopted")
    assert not foreign.exists()
    with store.open_local("adopted", digest=obj.digest) as folder:
        assert (folder / "f").read_bytes() == b"data"


def test_put_dir_needs_a_folder(store: LocalArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a folder"):
        store.put_dir(tmp_path / "missing", "x")


def test_open_local_of_a_plain_folder_is_not_found(store: LocalArtifactStore) -> None:
    (Path(store.root) / "plain").mkdir()
    with pytest.raises(ArtifactNotFoundError), store.open_local("plain"):
        pass


def test_root_accepts_file_url_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = LocalArtifactStore.from_url("~/arts")
    assert Path(store.root) == (tmp_path / "arts").resolve()
    assert LocalArtifactStore.from_url(f"file://{tmp_path}/arts").root == store.root
