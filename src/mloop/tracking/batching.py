"""``MetricBuffer``: metric values held in memory and written in one transaction per batch.

A transaction per value would cost a commit each (MLflow with SQLite needs ~27 ms per value);
buffering makes logging 10,000 values a handful of transactions. A buffer flushes when it holds
``max_values`` values, when ``max_seconds`` have passed since its last flush (checked at the next
call), and whenever asked (end of run, end of a step, interpreter exit, before ``os.fork()``).
A forked child starts with its inherited buffers empty: it writes only what it logs itself.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable

from mloop.metadata.entities import Metric
from mloop.metadata.roles import TrackingStore

MAX_VALUES = 10_000
"""Values held before a flush."""
MAX_SECONDS = 1.0
"""Seconds after the last flush at which the next call flushes."""

_log = logging.getLogger(__name__)
_live: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
_live_lock = threading.Lock()


class MetricBuffer:
    """Pending metric values of one run (and optionally one execution). Thread-safe."""

    def __init__(
        self,
        store_of: Callable[[], TrackingStore],
        run_id: str,
        *,
        max_values: int = MAX_VALUES,
        max_seconds: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store_of = (
            store_of  # resolved at the first flush: a run with no metrics costs nothing
        )
        self.run_id = run_id
        self.max_values = max_values
        self.max_seconds = max_seconds
        self._clock = clock
        self._pending: list[Metric] = []
        self._last_flush = clock()
        self._lock = threading.Lock()
        with _live_lock:
            _live.add(self)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, metrics: Iterable[Metric]) -> None:
        """Hold ``metrics``; write everything held if a threshold is reached."""
        with self._lock:
            self._pending.extend(metrics)
            due = self._clock() - self._last_flush >= self.max_seconds
            if len(self._pending) >= self.max_values or due:
                self._flush_locked()

    def flush(self) -> None:
        """Write every held value now, in one transaction. On failure the values stay held."""
        with self._lock:
            self._flush_locked()

    def take(self) -> list[Metric]:
        """Hand over every held value (the caller writes them) and stop being flushed at exit."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = self._clock()
        with _live_lock:
            _live.discard(self)
        return pending

    def close(self) -> None:
        """Flush, and stop being flushed at interpreter exit."""
        self.flush()
        with _live_lock:
            _live.discard(self)

    def _flush_locked(self) -> None:
        if self._pending:
            self._store_of().log_metrics(self.run_id, self._pending)
            self._pending = []
        self._last_flush = self._clock()


def flush_all() -> None:
    """Flush every live buffer of this process (at exit; failures are logged, not raised)."""
    with _live_lock:
        buffers = list(_live)
    for buffer in buffers:
        try:
            buffer.flush()
        except Exception:  # at exit there is no caller left to raise to
            _log.exception("mloop: could not write metrics of run %s at exit", buffer.run_id)


def _flush_before_fork() -> None:
    """Before a fork: write what is held, so a child logging to an inherited run adds to what
    the store has. A failure keeps the values held, for the parent (the child drops them)."""
    with _live_lock:
        buffers = list(_live)
    for buffer in buffers:
        try:
            buffer.flush()
        except Exception:
            _log.exception("mloop: could not write metrics of run %s before a fork", buffer.run_id)


def _forget_in_child() -> None:
    """A forked child must not write the values its parent holds (the parent writes them):
    every inherited buffer is emptied, with fresh locks, and keeps only what the child logs."""
    global _live_lock
    _live_lock = threading.Lock()
    for buffer in list(_live):
        buffer._lock = threading.Lock()
        buffer._pending = []


atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_flush_before_fork, after_in_child=_forget_in_child)
