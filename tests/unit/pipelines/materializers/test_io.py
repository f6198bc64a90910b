"""store_value / load_value: publish only on success, verify before loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mloop.artifacts.content import STAGING_DIR_NAME
from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import ArtifactNotFoundError, IntegrityError, StoreError, ValidationError
from mloop.pipelines.materializers import Materializer, StoredValue, load_value, store_value
from mloop.pipelines.materializers.values import JsonMaterializer


class Exploding(Materializer):
    name = "test.exploding"
    types = ()

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        (folder / "partial.bin").write_bytes(b"half")
        raise RuntimeError("disk full")

    def load(self, folder: Path) -> Any:
        raise AssertionError("never")


def _staging(store: LocalArtifactStore) -> list[Path]:
    root = Path(store.root) / STAGING_DIR_NAME
    return list(root.iterdir()) if root.exists() else []


def test_stored_value_fields(store: LocalArtifactStore) -> None:
    stored = store_value({"a": 1}, store, "runs/r/s/out")
    assert isinstance(stored, StoredValue)
    assert (stored.uri, stored.materializer, stored.version, stored.artifact_type) == (
        "runs/r/s/out",
        "builtins.json",
        1,
        "Value",
    )
    assert stored.materializer_version == stored.version
    assert len(stored.digest) == 64 and stored.size == len(b'{"a":1}')
    assert store.exists("runs/r/s/out")


def test_failure_publishes_nothing_and_cleans_staging(store: LocalArtifactStore) -> None:
    with pytest.raises(RuntimeError, match="disk full"):
        store_value(1, store, "x", materializer=Exploding())
    assert not store.exists("x")
    assert _staging(store) == []


def test_taken_uri_leaves_the_first_value(store: LocalArtifactStore) -> None:
    first = store_value("one", store, "x")
    with pytest.raises(StoreError):
        store_value("two", store, "x")
    assert load_value(store, "x", first.materializer, digest=first.digest) == "one"
    assert _staging(store) == []


def test_materializer_by_instance_and_name(store: LocalArtifactStore) -> None:
    assert (
        store_value([1], store, "a", materializer=JsonMaterializer()).materializer
        == "builtins.json"
    )
    assert store_value({1, 2}, store, "b", materializer="pickle").materializer == "pickle"
    assert load_value(store, "b", "pickle") == {1, 2}


def test_unknown_type_is_refused_before_staging(store: LocalArtifactStore) -> None:
    with pytest.raises(ValidationError, match="allow_pickle=True"):
        store_value(object(), store, "o")
    assert _staging(store) == []


def test_tampered_artifact_is_not_loaded(store: LocalArtifactStore) -> None:
    stored = store_value([1, 2, 3], store, "t")
    (Path(store.root) / "t" / "value.json").write_bytes(b"[6,6,6]")
    with pytest.raises(IntegrityError):
        load_value(store, "t", stored.materializer, digest=stored.digest)


def test_load_errors(store: LocalArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError):
        load_value(store, "missing", "builtins.json")
    store_value(1, store, "one")
    with pytest.raises(ValidationError, match="unknown materializer"):
        load_value(store, "one", "no.such.materializer")
