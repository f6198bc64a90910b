"""The registry on PostgreSQL: the same behaviour as on SQLite, and concurrent registrations
of one model get distinct version numbers (row lock on the registered model)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mloop.metadata.sql.store import SqlMetadataStore

pytestmark = pytest.mark.integration


@pytest.fixture
def rows(postgres_url):
    store = SqlMetadataStore.open(postgres_url)
    try:
        yield store.model_registry()
    finally:
        store.close()


def test_versions_aliases_and_history(rows):
    a = rows.create_version("m", uri="registry/m/a", digest="a" * 64, metrics={"auc": 0.8})
    b = rows.create_version("m", uri="registry/m/b", digest="b" * 64, tags={"k": "v"})
    assert (a.version, b.version) == (1, 2)
    rows.set_alias("m", "production", 1, actor="ci", reason="first")
    rows.set_alias("m", "production", 2, actor="ci", reason="second")
    assert rows.get_alias("m", "production") == 2
    history = rows.alias_history("m", "production")
    assert [(h.from_version, h.to_version) for h in history] == [(None, 1), (1, 2)]
    assert rows.get_version("m", 1).metrics == {"auc": 0.8}
    assert [m.name for m in rows.search_models(name_contains="m")] == ["m"]


def test_concurrent_registrations_get_distinct_versions(rows):
    def register(i: int) -> int:
        return rows.create_version("race", uri=f"u/{i}", digest=f"{i:064d}").version

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = sorted(pool.map(register, range(24)))
    assert versions == list(range(1, 25))
