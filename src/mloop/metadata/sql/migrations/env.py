"""Alembic environment for the metadata store: runs on a connection handed in by ``migrate.py``.

Used both by :func:`mloop.metadata.sql.migrate.upgrade` (``mloop db upgrade``) and by the
``alembic`` command line when developers write a new revision (``-x url=...``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from mloop.metadata.sql.schema import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("alembic needs a database url: -x url=... or sqlalchemy.url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
