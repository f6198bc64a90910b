"""``WriteLane``: tracking writes on one driver connection per thread, with no SQLAlchemy
``Connection`` in between.

Why: a tracking call writes a few rows, so its cost is the plumbing around them. Through
SQLAlchemy a write transaction cost ~0.5 ms of Python on top of the commit (pool checkout
and reset-on-return, the ``begin`` event that issues ``BEGIN IMMEDIATE``, result set-up and
event dispatch per statement); on the driver connection it costs a few microseconds.

What stays the same: each call is one transaction, ``BEGIN IMMEDIATE`` on SQLite (the write
lock is taken at once), committed before the call returns, so another process sees it. The
connection comes from the engine (same connect-time PRAGMAs), is detached from its pool and
used by one thread only: a thread never sees another thread's transaction. Driver errors are
raised as SQLAlchemy's (``sa.exc.IntegrityError``, ...), as the engine would raise them.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")

_RETRIES = 1
"""Times a transaction is retried on a fresh connection when the connection broke before the
commit was sent (PostgreSQL restarted, an idle connection cut): nothing of it was written."""


class DriverTx:
    """One open transaction on a driver cursor: statements with the driver's placeholders."""

    def __init__(self, cursor: Any, sqlite: bool, mark: str) -> None:
        self.cursor = cursor
        self.sqlite = sqlite  # times are stored as text on SQLite, aware datetimes elsewhere
        self.mark = mark  # "?" or "%s"
        self.statement: str | None = None  # the last one sent: named in an error

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; its row count."""
        self.statement = sql
        self.cursor.execute(sql, params)
        return int(self.cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row (the driver's ``executemany``); the total row count."""
        self.statement = sql
        self.cursor.executemany(sql, rows)
        return int(self.cursor.rowcount)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.statement = sql
        self.cursor.execute(sql, params)
        return [tuple(row) for row in self.cursor.fetchall()]


class _Held:
    """A thread's detached connection; ``owner`` tells when its thread has ended."""

    def __init__(self, fairy: Any, owner: threading.Thread) -> None:
        self.fairy = fairy
        self.owner = weakref.ref(owner)
        self.pid = os.getpid()
        self.closed = False  # set when closed by close(), the finalizer or a failure

    def alive(self) -> bool:
        thread = self.owner()
        return thread is not None and thread.is_alive()


class WriteLane:
    """Write transactions for one engine, each thread on a connection of its own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        # SQLite in memory: a single shared connection (StaticPool); checked out per call.
        self._shared = self.sqlite and engine.url.database in (None, "", ":memory:")
        self._local = threading.local()
        self._held: list[_Held] = []  # changed in place: the finalizer holds this list
        self._lock = threading.Lock()
        self._closed = False
        # A store dropped without close(), or open at exit: its connections still get closed.
        weakref.finalize(self, _close_all, self._held, self._lock)

    def run(self, work: Callable[[DriverTx], T]) -> T:
        """``work(tx)`` inside one write transaction, committed before returning; rolled back
        (and the error raised, as SQLAlchemy's exception) if anything fails."""
        for attempt in range(_RETRIES + 1):
            fairy = self._connection()
            conn = fairy.dbapi_connection
            cursor = conn.cursor()
            committing = False
            tx = DriverTx(cursor, self.sqlite, self.mark)
            try:
                if self.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                result = work(tx)
                committing = True
                conn.commit()
                return result
            except BaseException as exc:
                broken = self._after_failure(fairy, conn)
                if isinstance(exc, self._dbapi_error):
                    if broken and not committing and attempt < _RETRIES:
                        continue  # nothing was written: once more on a fresh connection
                    raise sa.exc.DBAPIError.instance(
                        "COMMIT" if committing else tx.statement,
                        None,
                        exc,
                        self._dbapi_error,
                        connection_invalidated=broken,
                    ) from exc
                raise
            finally:
                cursor.close()
                if self._shared:
                    fairy.close()  # back to the StaticPool
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection of this lane (any thread's); later calls raise."""
        with self._lock:
            self._closed = True
        _close_all(self._held, self._lock)

    def connections(self) -> int:
        """Connections open now (one per thread that wrote and is still alive)."""
        with self._lock:
            return len(self._held)

    # -- connections ----------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._shared:
            return self.engine.raw_connection()
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and held.pid == os.getpid() and not held.closed:
            return held.fairy
        # A new thread, or a child process that inherited the parent's (never used here).
        fairy = self.engine.raw_connection()
        fairy.detach()  # ours until close(): the pool neither counts nor resets it
        held = _Held(fairy, threading.current_thread())
        with self._lock:
            if self._closed:
                fairy.close()
                raise sa.exc.ResourceClosedError("this store is closed")
            ended = [h for h in self._held if not h.alive() or h.pid != held.pid]
            self._held[:] = [h for h in self._held if h not in ended] + [held]
        for h in ended:  # a thread that wrote and has ended: close its connection
            if h.pid == held.pid:
                h.fairy.close()
        self._local.held = held
        return fairy

    def _after_failure(self, fairy: Any, conn: Any) -> bool:
        """Roll back; True when the connection is unusable (then it is dropped)."""
        broken = bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))
        if not broken:
            try:
                conn.rollback()
            except Exception:
                broken = True
        if broken and not self._shared:
            self._drop(fairy)
        return broken

    def _drop(self, fairy: Any) -> None:
        with self._lock:
            for h in self._held:
                if h.fairy is fairy:
                    h.closed = True
            self._held[:] = [h for h in self._held if h.fairy is not fairy]
        self._local.held = None
        try:
            fairy.close()
        except Exception:  # already gone: nothing to release
            pass


def _close_all(held: list[_Held], lock: threading.Lock) -> None:
    """Close the connections in ``held`` that this process opened (a child's inherited ones
    belong to its parent) and empty the list."""
    with lock:
        todo, held[:] = list(held), []
        for h in todo:
            h.closed = True  # a thread holding it opens a new one (e.g. a flush at exit)
    for h in todo:
        if h.pid == os.getpid():
            try:
                h.fairy.close()
            except Exception:  # at exit or already cut: nothing left to release
                pass
