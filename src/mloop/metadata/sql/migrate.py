"""Schema versions: create a fresh database fast, upgrade an old one, refuse a newer one.

A fresh database is created from ``schema.metadata`` and stamped with the head revision (a few
milliseconds; running the Alembic chain costs more and gives the same schema, which a test
checks). An existing database is upgraded with the Alembic scripts in ``migrations/``, imported
only then. ``mloop db upgrade`` calls :func:`upgrade`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from mloop.errors import MigrationRequiredError
from mloop.metadata.sql import schema
from mloop.metadata.sql.engine import create_engine, immediate, write_transaction

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x6D6C6F6F70  # "mloop": serialises schema creation between processes


def read_revision(conn: sa.Connection) -> str | None:
    """The revision stamped in the database, or None when it has no version table."""
    if not sa.inspect(conn).has_table(schema.VERSION_TABLE):
        return None
    return conn.execute(sa.select(schema.version_table.c.version_num)).scalar()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None for an empty database)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            return read_revision(conn)
    finally:
        engine.dispose()


def known_revisions() -> list[str]:
    """Every revision this version of mloop ships, oldest first (imports Alembic)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def ensure_schema(engine: sa.Engine, url: str, *, migrate: bool) -> None:
    """Make the database at ``engine`` usable by this code, or raise ``MigrationRequiredError``.

    Fresh database: created (when ``migrate``). Older revision: upgraded (when ``migrate``).
    Unknown or newer revision: always refused.
    """
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        revision = read_revision(conn)
        if revision == schema.HEAD_REVISION:
            return
        if revision is None:
            if sa.inspect(conn).has_table("runs"):
                raise MigrationRequiredError(
                    f"{_safe(url)} holds tables but no schema version; it was not created by "
                    "mloop, or was damaged. Point metadata_url at another database."
                )
            if not migrate:
                raise _behind(url, revision)
            schema.metadata.create_all(conn)
            schema.version_table.create(conn)
            conn.execute(schema.version_table.insert().values(version_num=schema.HEAD_REVISION))
            return
    if revision not in known_revisions():
        raise MigrationRequiredError(
            f"the metadata database {_safe(url)} has schema revision {revision!r}, newer than "
            f"this mloop knows (head {schema.HEAD_REVISION!r}); upgrade mloop "
            "(pip install -U mloop) to use it"
        )
    if not migrate:
        raise _behind(url, revision)
    _alembic_upgrade(engine)


def upgrade(url: str) -> tuple[str | None, str]:
    """Upgrade the database at ``url`` to the head revision with the Alembic chain.

    Returns ``(from_revision, to_revision)``; ``from_revision`` is None for an empty database.
    """
    engine = create_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            before = read_revision(conn)
        if before is not None and before not in known_revisions():
            raise MigrationRequiredError(
                f"{_safe(url)} has schema revision {before!r}, newer than this mloop knows; "
                "upgrade mloop (pip install -U mloop)"
            )
        _alembic_upgrade(engine)
        with engine.connect() as conn, conn.begin():
            after = read_revision(conn)
        assert after is not None
        return before, after
    finally:
        engine.dispose()


def _alembic_upgrade(engine: sa.Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        config.attributes["connection"] = immediate(conn)
        command.upgrade(config, "head")
        if conn.in_transaction():
            conn.commit()


def _behind(url: str, revision: str | None) -> MigrationRequiredError:
    have = "no schema" if revision is None else f"schema revision {revision!r}"
    return MigrationRequiredError(
        f"the metadata database {_safe(url)} has {have}, older than this mloop "
        f"(head {schema.HEAD_REVISION!r}); run `mloop db upgrade` to migrate it"
    )


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def schema_differences(url: str) -> list[object]:
    """Alembic autogenerate's differences between the database at ``url`` and ``schema.py``
    (empty when they agree): how CI checks that the migration chain matches the code."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, schema.metadata))
    finally:
        engine.dispose()
