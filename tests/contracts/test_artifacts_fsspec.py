"""FsspecArtifactStore (memory:// and file://) against the shared artifact store contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from mloop._utils.ids import new_id
from mloop.artifacts.fsspec import FsspecArtifactStore
from mloop.testing.artifact_contracts import ArtifactStoreContract


def _tamper(store: FsspecArtifactStore, uri: str, relpath: str, data: bytes | None) -> None:
    fs, base = fsspec.core.url_to_fs(store.root)
    path = f"{base.rstrip('/')}/{uri}/{relpath}"
    if data is None:
        fs.rm_file(path)
    else:
        fs.pipe_file(path, data)


class TestFsspecMemoryArtifactStore(ArtifactStoreContract):
    __test__ = True
    backend = ("artifact_stores", "fsspec")

    @pytest.fixture
    def store(self) -> Iterator[FsspecArtifactStore]:
        url = f"memory://mloop-test-{new_id()}"
        yield FsspecArtifactStore.from_url(url)
        fs, base = fsspec.core.url_to_fs(url)
        if fs.exists(base):
            fs.rm(base, recursive=True)

    def tamper(self, store, uri: str, relpath: str, data: bytes | None) -> None:
        _tamper(store, uri, relpath, data)


class TestFsspecFileArtifactStore(ArtifactStoreContract):
    __test__ = True
    backend = ("artifact_stores", "fsspec")

    @pytest.fixture
    def store(self, tmp_path: Path) -> FsspecArtifactStore:
        return FsspecArtifactStore.from_url(f"file://{tmp_path / 'artifacts'}")

    def tamper(self, store, uri: str, relpath: str, data: bytes | None) -> None:
        _tamper(store, uri, relpath, data)
