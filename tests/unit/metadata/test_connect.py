"""connect(url): backend by scheme, one store per process and URL, SQLite folders created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.errors import BackendNotFoundError, ConfigError
from mloop.metadata import connect
from mloop.metadata.connect import disconnect_all
from mloop.metadata.sql.store import SqlMetadataStore


def test_connect_caches_and_creates_the_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'mloop.db'}"
    try:
        store = connect(url)
        assert isinstance(store, SqlMetadataStore)
        assert (tmp_path / "deep" / "er" / "mloop.db").is_file()
        assert connect(url) is store
        store.close()
        reopened = connect(url)  # a closed store is not handed out again
        assert reopened is not store and not reopened.closed  # type: ignore[attr-defined]
    finally:
        disconnect_all()


def test_connect_relative_sqlite_path(project_dir: Path) -> None:
    try:
        store = connect("sqlite:///rel/m.db")
        assert (project_dir / "rel" / "m.db").is_file()
        store.create_run("exp")
    finally:
        disconnect_all()


def test_connect_rejects_unknown_schemes() -> None:
    with pytest.raises(ConfigError, match="no scheme"):
        connect("just-a-path.db")
    with pytest.raises(BackendNotFoundError):
        connect("mysql://localhost/db")
