"""connect(): backend choice by URL, per-process caching, and the package's public names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mloop.artifacts
from mloop import plugins
from mloop._utils.ids import new_id
from mloop.artifacts import FsspecArtifactStore, LocalArtifactStore, connect
from mloop.artifacts.connect import backend_name_for, clear_connections


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_connections()
    yield
    clear_connections()


def test_exports_are_exact() -> None:
    assert sorted(mloop.artifacts.__all__) == mloop.artifacts.__all__
    for name in mloop.artifacts.__all__:
        assert getattr(mloop.artifacts, name) is not None
    with pytest.raises(AttributeError):
        mloop.artifacts.NoSuchThing  # noqa: B018


@pytest.mark.parametrize(
    "url, name",
    [
        ("/tmp/x", "local"),
        ("relative/dir", "local"),
        ("file:///tmp/x", "local"),
        ("memory://b", "fsspec"),
        ("s3://bucket/p", "fsspec"),
    ],
)
def test_backend_name_for(url: str, name: str) -> None:
    assert backend_name_for(url) == name


def test_plain_path_and_file_url_give_a_local_store(tmp_path: Path) -> None:
    store = connect(str(tmp_path / "a"))
    assert isinstance(store, LocalArtifactStore)
    assert (tmp_path / "a").is_dir()
    assert isinstance(connect(f"file://{tmp_path}/b"), LocalArtifactStore)


def test_other_schemes_give_an_fsspec_store() -> None:
    store = connect(f"memory://connect-{new_id()}")
    assert isinstance(store, FsspecArtifactStore)


def test_stores_are_cached_per_url(tmp_path: Path) -> None:
    a = connect(str(tmp_path / "a"))
    assert connect(str(tmp_path / "a")) is a
    assert connect(str(tmp_path / "b")) is not a


def test_a_plugin_named_after_the_scheme_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        plugins.BUILTINS["artifact_stores"], "mem2", "mloop.artifacts.local:LocalArtifactStore"
    )
    assert backend_name_for("mem2://x") == "mem2"
