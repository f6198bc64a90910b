"""SqliteOnlineStore against the shared online store contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mloop.features.online_stores.sqlite import SqliteOnlineStore
from mloop.testing.online_store_contracts import OnlineStoreContract


class TestSqliteOnlineStore(OnlineStoreContract):
    __test__ = True
    backend = ("online_stores", "sqlite")

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteOnlineStore]:
        s = SqliteOnlineStore(tmp_path / "online.db")
        yield s
        s.close()
