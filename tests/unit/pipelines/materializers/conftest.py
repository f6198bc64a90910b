"""Fixtures for materializer tests: a local store, and an isolated registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mloop.artifacts.local import LocalArtifactStore
from mloop.pipelines.materializers import registry


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore.from_url(str(tmp_path / "artifacts"))


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the global registry after a test that registers materializers."""
    registry.registered_materializers()  # load built-ins first
    by_name, by_type = dict(registry._BY_NAME), dict(registry._BY_TYPE)
    yield
    registry._BY_NAME.clear()
    registry._BY_NAME.update(by_name)
    registry._BY_TYPE.clear()
    registry._BY_TYPE.update(by_type)
