"""LocalArtifactStore against the shared artifact store contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.artifacts.local import LocalArtifactStore
from mloop.testing.artifact_contracts import ArtifactStoreContract


class TestLocalArtifactStore(ArtifactStoreContract):
    __test__ = True
    backend = ("artifact_stores", "local")

    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore.from_url(str(tmp_path / "artifacts"))

    def tamper(self, store, uri: str, relpath: str, data: bytes | None) -> None:
        path = Path(store.root) / uri / relpath
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)


class TestLocalArtifactStoreFileUrl(TestLocalArtifactStore):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore.from_url(f"file://{tmp_path / 'artifacts'}")
