"""The metadata store contract on SQLite, plus what only SQLite has (pragmas, file handling)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mloop.metadata.base import MetadataStore
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.contracts import MetadataStoreContract


class TestSqliteMetadataStore(MetadataStoreContract):
    __test__ = True
    backend = ("metadata_stores", "sqlite")

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'mloop.db'}")
        yield store
        store.close()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    with store.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    store.close()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 30000,
    }


def test_data_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = SqlMetadataStore.open(url)
    run = store.create_run("exp", tags={"a": "b"})
    store.close()
    again = SqlMetadataStore.open(url)
    assert again.get_run(run.id) == run
    again.close()


def test_constructor_does_no_io_and_closed_store_says_so(tmp_path: Path) -> None:
    path = tmp_path / "never.db"
    store = SqlMetadataStore(f"sqlite:///{path}")
    assert not path.exists()
    from mloop.errors import StoreError

    with pytest.raises(StoreError, match="closed"):
        store.get_run("whatever")


def test_in_memory_database_works(tmp_path: Path) -> None:
    store = SqlMetadataStore.open("sqlite://")
    run = store.create_run("exp")
    assert store.get_run(run.id).id == run.id
    with store.engine.connect() as conn:
        assert sa.inspect(conn).has_table("latest_metrics")
    store.close()
