"""DuckDBOfflineStore (the built-in offline store) against the offline store contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mloop import plugins
from mloop.features.offline_stores.base import OfflineStore
from mloop.testing.offline_store_contracts import OfflineStoreContract


class TestDuckDBOfflineStore(OfflineStoreContract):
    __test__ = True
    backend = ("offline_stores", "duckdb")

    @pytest.fixture
    def make_store(self) -> Callable[[Path], OfflineStore]:
        cls = plugins.load(*self.backend)  # the class the backend table names
        return lambda repo: cls.from_config(cls.Config(), repo)
