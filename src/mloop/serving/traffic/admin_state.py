"""Admin state shared by a service's worker processes: the champion pin and the traffic split.

With ``--workers N`` an admin call (``POST /admin/reload``, ``PUT /admin/traffic``) reaches the
one worker the kernel handed its connection to. That worker loads what the call asks for (so a
bad URI fails the call and changes nothing), then publishes the new :class:`AdminState` with a
higher ``generation`` to ``state.json`` in the service's admin folder (written to a temporary
file and renamed into place, so a reader sees the old or the new state, never half of one;
writers take an ``flock`` so two admin calls cannot lose each other's partial update). Every
worker polls the file's ``stat`` every :data:`POLL_S` seconds, applies a newer generation and
records it in ``applied-<pid>.json``; the admin call answers once every worker recorded it (or
says it is still applying after :data:`WAIT_S`). The folder belongs to one run of the service:
the launcher creates it (:data:`DIR_ENV`), and a restarted service starts again from its
command line. With one worker there is no folder; the same code keeps the state in memory.
See docs/adr/0022-serving-admin-state.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["DIR_ENV", "POLL_S", "WAIT_S", "WORKERS_ENV", "AdminState", "SharedAdmin"]

DIR_ENV = "MLOOP_SERVE_ADMIN_DIR"
"""Set by the launcher for its workers: the folder holding the shared admin state."""

WORKERS_ENV = "MLOOP_SERVE_WORKERS"
"""Set by the launcher: how many workers an admin change must reach."""

POLL_S = 0.2
"""How often each worker checks for a newer admin state (s): the most a sibling lags."""

WAIT_S = 120.0
"""How long an admin call waits for every worker to apply its change (s; loads take time)."""


@dataclass(frozen=True)
class AdminState:
    """What every worker must serve. ``champion_uri`` None follows the URI the service was
    started with (an alias keeps being followed); a URI pins the champion to it.
    ``reload_seq`` moves on every reload, so each worker reloads even an unchanged URI."""

    generation: int = 0
    champion_uri: str | None = None
    reload_seq: int = 0
    canary_uri: str | None = None
    canary_percent: float = 0.0
    shadow_uri: str | None = None

    def next(self, **changes: Any) -> AdminState:
        return replace(self, generation=self.generation + 1, **changes)


class SharedAdmin:
    """The admin state of one service run, in ``directory`` (None: this process only)."""

    def __init__(self, directory: Path | None, initial: AdminState, workers: int = 1) -> None:
        self.directory = directory
        self.workers = max(workers, 1) if directory is not None else 1
        self.worker = str(os.getpid())
        self._memory = initial
        self._seen: tuple[int, int, int] | None = None
        self._lock = asyncio.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, initial: AdminState) -> SharedAdmin:
        folder = os.environ.get(DIR_ENV)
        workers = int(os.environ.get(WORKERS_ENV, "1") or 1)
        return cls(Path(folder) if folder else None, initial, workers)

    @property
    def _state_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "state.json"

    def read(self) -> AdminState:
        """The published state (the initial one until an admin call published another)."""
        if self.directory is None:
            return self._memory
        try:
            doc = json.loads(self._state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self._memory
        return AdminState(**doc)

    def changed(self) -> bool:
        """True when the published file changed since the last call (one ``stat``)."""
        if self.directory is None:
            return False
        try:
            st = self._state_path.stat()
        except FileNotFoundError:
            return False
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._seen:
            return False
        self._seen = key
        return True

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Exclusive over every worker: read, apply, :meth:`publish` inside."""
        async with self._lock:
            if self.directory is None:
                yield
                return
            fd = os.open(self.directory / "admin.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def publish(self, state: AdminState) -> None:
        """Make ``state`` the one every worker follows (call under :meth:`locked`)."""
        self._memory = state
        if self.directory is not None:
            _write_json(self._state_path, asdict(state))

    def mark_applied(self, generation: int, error: str | None = None) -> None:
        """Record that this worker serves ``generation`` (or failed to, with ``error``)."""
        if self.directory is None:
            return
        doc = {"pid": int(self.worker), "generation": generation, "error": error}
        _write_json(self.directory / f"applied-{self.worker}.json", doc)

    def applied(self) -> list[dict[str, Any]]:
        """Each worker's last applied generation, by pid."""
        if self.directory is None:
            return []
        found = []
        for path in sorted(self.directory.glob("applied-*.json")):
            with contextlib.suppress(FileNotFoundError, ValueError):
                found.append(json.loads(path.read_text(encoding="utf-8")))
        return sorted(found, key=lambda d: d["pid"])

    async def wait_applied(self, generation: int, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """Wait until every worker applied ``generation`` (or failed it), at most
        ``timeout_s`` seconds; returns ``{"generation", "workers", "applied", "complete",
        "errors"}``."""
        deadline = time.monotonic() + timeout_s
        while True:
            done = [d for d in self.applied() if d["generation"] >= generation]
            errors = [
                f"worker {d['pid']}: {d['error']}"
                for d in done
                if d.get("error") and d["generation"] == generation
            ]
            count = len(done) if self.directory is not None else 1
            if count >= self.workers or time.monotonic() > deadline:
                return {
                    "generation": generation,
                    "workers": self.workers,
                    "applied": count - len(errors),
                    "complete": count >= self.workers and not errors,
                    "errors": errors,
                }
            await asyncio.sleep(0.02)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)  # readers see the old file or the new one, never half
