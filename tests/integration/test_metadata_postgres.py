"""The metadata store contract and the migrations on a real PostgreSQL (127.0.0.1:5432)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mloop.metadata.base import MetadataStore
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.contracts import (
    MetadataStoreContract,
    check_fresh_store_matches_schema,
    check_migrations,
)

pytestmark = pytest.mark.integration


class TestPostgresMetadataStore(MetadataStoreContract):
    __test__ = True
    backend = ("metadata_stores", "postgresql")

    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[MetadataStore]:
        store = SqlMetadataStore.open(postgres_url)
        yield store
        store.close()


def test_migrations_on_postgres(postgres_url: str) -> None:
    check_migrations(postgres_url)


def test_fresh_postgres_store_matches_the_chain(postgres_url: str) -> None:
    check_fresh_store_matches_schema(postgres_url)
