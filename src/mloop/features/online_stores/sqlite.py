"""``SqliteOnlineStore``: the embedded online store (one SQLite file, ``.mloop/online_store.db``).

One row per (view, entity key) holding the feature values as one JSON object, so a read of any
number of features of one entity is a single primary-key lookup. WAL mode lets the feature
server read while ``materialize`` writes; a batch and its watermark commit together.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel

from mloop.errors import OnlineStoreUnavailableError
from mloop.features.online_stores.base import OnlineRows, OnlineStore, StoredRow

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS online_rows (view TEXT NOT NULL, entity_key TEXT NOT NULL, "
    "event_ts REAL NOT NULL, vals BLOB NOT NULL, PRIMARY KEY (view, entity_key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS watermarks (view TEXT PRIMARY KEY, watermark REAL NOT NULL)",
)
_UPSERT = (
    "INSERT INTO online_rows (view, entity_key, event_ts, vals) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (view, entity_key) DO UPDATE SET event_ts = excluded.event_ts, "
    "vals = excluded.vals WHERE excluded.event_ts >= online_rows.event_ts"
)
_SELECT_ONE = "SELECT event_ts, vals FROM online_rows WHERE view = ? AND entity_key = ?"
_IN_CHUNK = 500  # keys per IN (...) list, under SQLite's bound-parameter limit
_MMAP_BYTES = 1 << 30  # map up to 1 GiB of the file: random single-key reads skip read() calls
_CACHE_KIB = 65536  # page cache per connection, KiB


class SqliteOnlineStoreConfig(BaseModel):
    type: Literal["sqlite"] = "sqlite"
    path: str = ".mloop/online_store.db"


class SqliteOnlineStore(OnlineStore):
    """Online store in one SQLite file; a connection per thread."""

    name: ClassVar[str] = "sqlite"
    Config: ClassVar[type[BaseModel]] = SqliteOnlineStoreConfig

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._created = False

    @classmethod
    def from_config(cls, config: SqliteOnlineStoreConfig, base_dir: Path) -> SqliteOnlineStore:
        path = Path(config.path)
        return cls(path if path.is_absolute() else base_dir / path)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")  # reads without a read() per page
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            if not self._created:
                for statement in _SCHEMA:
                    conn.execute(statement)
                self._created = True
        except sqlite3.Error as exc:
            raise OnlineStoreUnavailableError(
                f"cannot open the SQLite online store {str(self.path)!r}: {exc}; check the "
                "folder exists and is writable"
            ) from exc
        self._local.conn = conn
        return conn

    def _cursor(self) -> sqlite3.Cursor:
        """A cursor kept per thread for single-key reads (saves creating one per call)."""
        self._local.cursor = self._conn().cursor()
        return self._local.cursor

    def write_batch(self, view: str, rows: OnlineRows, *, watermark: float | None = None) -> int:
        objects = rows.json_objects()
        params = list(zip(repeat(view), rows.entity_keys, rows.event_ts, objects, strict=False))
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_UPSERT, params)
            if watermark is not None:
                conn.execute(
                    "INSERT INTO watermarks (view, watermark) VALUES (?, ?) ON CONFLICT (view) "
                    "DO UPDATE SET watermark = excluded.watermark",
                    (view, watermark),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return len(params)

    def read(
        self, view: str, entity_keys: Sequence[str], features: Sequence[str]
    ) -> list[StoredRow | None]:
        loads = orjson.loads
        if len(entity_keys) == 1:
            cursor = getattr(self._local, "cursor", None) or self._cursor()
            row = cursor.execute(_SELECT_ONE, (view, entity_keys[0])).fetchone()
            if row is None:
                return [None]
            vals = loads(row[1])
            return [(list(map(vals.get, features)), row[0])]
        conn = self._conn()
        found: dict[str, tuple[float, Any]] = {}
        unique = list(dict.fromkeys(entity_keys))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT entity_key, event_ts, vals FROM online_rows WHERE view = ? "
                f"AND entity_key IN ({marks})"
            )
            for key, ts, blob in conn.execute(query, (view, *chunk)):
                found[key] = (ts, blob)
        out: list[StoredRow | None] = []
        for key in entity_keys:
            hit = found.get(key)
            if hit is None:
                out.append(None)
            else:
                vals = loads(hit[1])
                out.append((list(map(vals.get, features)), hit[0]))
        return out

    def get_watermark(self, view: str) -> float | None:
        row = self._conn().execute("SELECT watermark FROM watermarks WHERE view = ?", (view,))
        found = row.fetchone()
        return None if found is None else float(found[0])

    def delete_view(self, view: str) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM online_rows WHERE view = ?", (view,))
        conn.execute("DELETE FROM watermarks WHERE view = ?", (view,))
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.cursor = None

    def __repr__(self) -> str:
        return f"SqliteOnlineStore({str(self.path)!r})"
