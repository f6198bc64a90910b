"""``SqlFileFingerprintStore``: the file digest memo on the metadata store's engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mloop._utils.clock import utc_now
from mloop.metadata.file_fingerprints import FileFingerprint, FileFingerprintStore
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import file_fingerprints

_CHUNK = 500  # paths per IN (...) list, well under SQLite's bound-parameter limit


class SqlFileFingerprintStore(FileFingerprintStore):
    """Rows of ``file_fingerprints``; ``put`` is an upsert, so concurrent runs may both write."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, host: str, paths: Sequence[str]) -> dict[str, FileFingerprint]:
        found: dict[str, FileFingerprint] = {}
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return found
        t = file_fingerprints
        with read_transaction(self._engine) as conn:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                for path, size, mtime_ns, digest in conn.execute(
                    sa.select(t.c.path, t.c.size, t.c.mtime_ns, t.c.digest).where(
                        t.c.host == host, t.c.path.in_(chunk)
                    )
                ):
                    found[path] = FileFingerprint(path, int(size), int(mtime_ns), digest)
        return found

    def put(self, host: str, fingerprints: Iterable[FileFingerprint]) -> None:
        now = utc_now()
        rows = {
            f.path: {
                "host": host,
                "path": f.path,
                "size": f.size,
                "mtime_ns": f.mtime_ns,
                "digest": f.digest,
                "recorded_at": now,
            }
            for f in fingerprints
        }
        if not rows:
            return
        dialect = self._engine.dialect.name
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        insert = make(file_fingerprints)
        statement = insert.on_conflict_do_update(
            index_elements=["host", "path"],
            set_={
                "size": insert.excluded.size,
                "mtime_ns": insert.excluded.mtime_ns,
                "digest": insert.excluded.digest,
                "recorded_at": insert.excluded.recorded_at,
            },
        )
        with write_transaction(self._engine) as conn:
            conn.execute(statement, list(rows.values()))
