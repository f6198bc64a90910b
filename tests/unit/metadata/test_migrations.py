"""Schema versions on SQLite: the Alembic chain equals schema.py; old and new schemas refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from mloop.errors import MigrationRequiredError
from mloop.metadata.sql import migrate, schema
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.contracts import check_fresh_store_matches_schema, check_migrations


def test_head_revision_is_the_head_of_the_chain() -> None:
    assert migrate.known_revisions()[-1] == schema.HEAD_REVISION


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    check_migrations(f"sqlite:///{tmp_path / 'm.db'}")


def test_fresh_sqlite_store_matches_the_chain(tmp_path: Path) -> None:
    check_fresh_store_matches_schema(f"sqlite:///{tmp_path / 'm.db'}")


def test_foreign_tables_without_version_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id TEXT)"))
    engine.dispose()
    with pytest.raises(MigrationRequiredError, match="no schema version"):
        SqlMetadataStore.open(url)


def test_schema_differences_sees_a_missing_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_latest_metrics_key_value"))
    engine.dispose()
    [(kind, index)] = migrate.schema_differences(url)  # type: ignore[misc]
    assert (kind, index.name) == ("add_index", "ix_latest_metrics_key_value")
