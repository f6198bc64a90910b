"""SQLAlchemy engines for the metadata store, tuned per backend.

SQLite: WAL journal (readers never block the writer), ``synchronous=NORMAL`` (durable at each
checkpoint, fast commits), a 30 s busy timeout, foreign keys on, and transactions that we begin
ourselves so that a write transaction takes the write lock at ``BEGIN IMMEDIATE``: two processes
writing at once then wait for each other instead of failing with "database is locked" halfway.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_S = 30.0
"""How long (seconds) a SQLite writer waits for another process's write lock before failing."""

_BEGIN_OPTION = "mloop_sqlite_begin"


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``); no I/O yet."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        kwargs["poolclass"] = StaticPool  # one connection, or every checkout sees a new database
    engine = sa.create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect(memory))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(memory: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN for us
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not memory:
            _ensure_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL once (the mode is stored in the file). SQLite does not apply the
    busy timeout to a journal-mode change, so two processes opening a new database at the same
    moment would see "database is locked": read the mode first and retry the switch."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: sa.Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside one write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on
    success, rolls back on any exception."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside one read transaction (a consistent snapshot on both backends)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def immediate(conn: sa.Connection) -> sa.Connection:
    """``conn`` set so that its next transaction takes the SQLite write lock at once."""
    if conn.dialect.name == "sqlite":
        conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    return conn
