"""Write-behind tracking (async logging): run starts, params, tags, metric values and ends
queued in call order and written by one background thread, many runs per transaction.

Why: on SQLite a commit costs ~0.2 ms, so a run written as it happens (start, params, end:
three commits) costs ~30x the raw inserts of its rows; batched across runs it costs a few x.
Opt-in (``start_run(async_logging=True)``, ``MLOOP_ASYNC_LOGGING=1``, or
``tracking: {async_logging: true}`` in mloop.yaml), as MLflow's async logging is; ADR 0030.

Guarantees:
- Order: writes of one writer are applied in call order (per run: row, tags, params, metric
  values, final state); a batch is one transaction, so it lands whole or not at all.
- Read-your-writes: every read through the tracking API (``ActiveRun.info``,
  ``TrackingClient`` reads, ``search_runs``) and ``log_artifact`` flush first. Other code
  reading the store directly, or another process, sees a write only once it is flushed:
  call ``mloop.flush()`` before handing a run id elsewhere.
- Flushed by ``mloop.flush()``, by any read as above, before ``os.fork()`` (a forked child
  starts with an empty queue and writes only what it logs), and at interpreter exit (atexit, and
  multiprocessing's exit hook: a forked ``multiprocessing`` child ends with ``os._exit``, which
  skips atexit). In a ``multiprocessing`` child the end of each run also waits for its rows,
  since the parent may end the child at any moment (``Pool.terminate``, the ``with Pool`` exit).
- Errors: a failed batch is retried run by run, so only the runs whose writes fail are
  dropped; that ``TrackingWriteError`` (naming them, cause chained) is raised by the next call
  or flush of the writer, never swallowed (at exit, where no caller is left, it is logged).
- Params immutability: a param changed on a run started by this writer raises
  ``ValidationError`` at the call (the writer remembers what it queued); on any other run the
  call flushes and writes synchronously, so the store raises it at once.
- A crash (kill -9, power cut) loses the writes still queued: those since the last commit,
  at most the last ``LINGER_S`` (20 ms) of calls plus the batch being written; never a
  half-written batch.

Pipelines never go through this: their runs, executions, heartbeats and leases, and metrics
logged inside a step (``run_context``), stay synchronous, so a controller, the UI or a resume
never sees a pipeline run late or mistaken for abandoned.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_ids
from mloop.errors import TrackingWriteError, ValidationError
from mloop.metadata.entities import Metric, Run, RunState
from mloop.metadata.roles import TrackingStore
from mloop.metadata.run_writes import RunFinish, RunWrites

MAX_PENDING = 100_000
"""Queued writes (rows) at which callers wait for the writer (backpressure, bounded memory)."""
BATCH_ROWS = 5_000
"""Queued rows at which the writer starts a transaction without waiting further."""
IDLE_S = 10.0
"""Seconds without writes after which the writer thread ends (the next write starts another),
so a process that opened many stores does not keep a thread per store."""
LINGER_S = 0.02
"""Seconds the writer waits for more writes once the first arrives (group commit): fewer,
larger transactions, and a caller that is rarely interrupted. A crash loses at most this
window plus the batch being written."""

_log = logging.getLogger(__name__)


class WriteBehindWriter:
    """Queued tracking writes of one store and the thread that writes them. Thread-safe."""

    def __init__(self, store: TrackingStore, *, max_pending: int = MAX_PENDING) -> None:
        self.store = store
        self.max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: dict[str, RunWrites] = {}  # run id -> its writes, in first-call order
        self._size = 0  # rows queued
        self._busy = False  # a batch is being written
        self._error: TrackingWriteError | None = None
        self._params: dict[str, dict[str, str]] = {}  # params queued for runs started here
        self._thread: threading.Thread | None = None
        self._flushing = 0  # callers waiting in flush(): the writer does not linger
        self._ids: list[str] = []  # run ids drawn 256 at a time

    # -- writes ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """A RUNNING run, returned at once and queued for writing (its times are now)."""
        now = utc_now()
        with self._cond:
            if not self._ids:
                self._ids = new_ids(256)
            run_id = self._ids.pop()
        run = Run(
            id=run_id,
            experiment=experiment,
            state=RunState.RUNNING,
            started_at=now,
            heartbeat_at=None,  # tracking runs hold no lease (never reaped)
            name=name,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
        )
        with self._queue(run.id, 1, raise_first=True) as writes:  # no run left behind unseen
            writes.create = run
            self._params[run.id] = {}
        return run

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Queue params of a run started here (a changed value raises now); on another run,
        flush and write at once."""
        wanted = {str(k): str(v) for k, v in params.items()}
        if not wanted:
            return
        with self._cond:
            known = self._params.get(run_id)
        if known is None:
            self.flush()
            self.store.log_params(run_id, wanted)
            return
        with self._queue(run_id, len(wanted)) as writes:  # checked and queued under one lock
            for key, value in wanted.items():
                old = known.get(key, value)
                if old != value:
                    raise ValidationError(
                        f"param {key!r} of run {run_id} is already {old!r}; it cannot "
                        f"become {value!r} (params describe a run and never change: log a "
                        "metric or a tag instead, or start a new run)"
                    )
            known.update(wanted)
            writes.params.update(wanted)

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        if metrics:
            with self._queue(run_id, len(metrics)) as writes:
                writes.metrics.extend(metrics)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if tags:
            with self._queue(run_id, len(tags)) as writes:
                writes.tags.update({str(k): str(v) for k, v in tags.items()})

    def finish_run(self, run_id: str, state: RunState, *, error: str | None = None) -> None:
        """Queue the run's final state, stamped now."""
        finish = RunFinish(RunState(state), utc_now(), error)
        with self._queue(run_id, 1) as writes:
            writes.finish = finish
            self._params.pop(run_id, None)

    # -- flushing -------------------------------------------------------------------------------
    def flush(self, *, keep_error: bool = False) -> None:
        """Wait until everything queued so far is written; raise the writer's error if any
        (``keep_error``: leave it for the next call instead)."""
        with self._cond:
            if self._pending and not self._alive():
                self._start()  # e.g. in a forked child's own writer
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending or self._busy:
                    self._cond.wait()
            finally:
                self._flushing -= 1
            if not keep_error:
                self._raise_error()

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return self._size

    @property
    def failed(self) -> bool:
        """True when a write failed and its ``TrackingWriteError`` waits for the next call."""
        return self._error is not None

    @property
    def pending_or_busy(self) -> bool:
        """True while something queued is not yet written, or an error waits to be raised."""
        return bool(self._pending) or self._busy or self._error is not None

    # -- plumbing -------------------------------------------------------------------------------
    def _reset_in_child(self) -> None:
        """In a forked child: drop the parent's queue, error, thread and (maybe held) lock."""
        self._cond = threading.Condition()
        self._pending, self._size, self._busy = {}, 0, False
        self._error, self._thread, self._flushing = None, None, 0

    def _queue(self, run_id: str, size: int, *, raise_first: bool = False) -> _Queued:
        return _Queued(self, run_id, size, raise_first)

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        _hook_multiprocessing_exit()  # here: multiprocessing clears finalizers after a fork
        self._thread = threading.Thread(
            target=self._loop, name="mloop-tracking-writer", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    if not self._cond.wait(IDLE_S) and not self._pending:
                        self._thread = None  # idle: end; the next write starts a new thread
                        return
                deadline = time.monotonic() + LINGER_S
                while self._size < BATCH_ROWS and not self._flushing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = list(self._pending.values())
                self._pending, self._size, self._busy = {}, 0, True
                self._cond.notify_all()  # callers held back by a full queue
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, batch: list[RunWrites]) -> None:
        try:
            self.store.record_runs(batch)
            return
        except Exception:  # retried run by run below, so one bad run does not drop the others
            pass
        failed: list[tuple[str, Exception]] = []
        for writes in batch:
            try:
                self.store.record_runs([writes])
            except Exception as exc:
                failed.append((writes.run_id, exc))
        if failed:
            ids = tuple(run_id for run_id, _ in failed)
            first = failed[0][1]
            error = TrackingWriteError(
                f"async tracking could not write {len(ids)} run(s) ({', '.join(ids[:5])}"
                f"{', ...' if len(ids) > 5 else ''}): {type(first).__name__}: {first}; their "
                "queued writes were dropped, other runs were written",
                ids,
            )
            error.__cause__ = first
            with self._cond:
                if self._error is None:  # the first error is the one that explains
                    self._error = error


class _Queued:
    """``with writer._queue(run_id, n) as writes:`` the run's pending ``RunWrites`` under the
    lock (waiting while the queue is full); on leaving, an earlier writer error is raised, so
    the call's own write is kept (a run start raises it before queuing instead: a caller that
    gets the error has no run)."""

    def __init__(
        self, writer: WriteBehindWriter, run_id: str, size: int, raise_first: bool
    ) -> None:
        self.writer, self.run_id, self.size, self.raise_first = writer, run_id, size, raise_first

    def __enter__(self) -> RunWrites:
        w = self.writer
        w._cond.acquire()
        try:
            if self.raise_first:
                w._raise_error()
            if w._thread is None:
                w._start()
            while w._size >= w.max_pending:
                w._cond.wait()
            writes = w._pending.get(self.run_id)
            if writes is None:
                writes = w._pending[self.run_id] = RunWrites(self.run_id)
            return writes
        except BaseException:
            w._cond.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        w = self.writer
        try:
            if exc_type is None:
                w._size += self.size
                if w._size == self.size or w._size >= BATCH_ROWS:  # wake the writer: first or full
                    w._cond.notify_all()
                w._raise_error()  # an earlier failure surfaces here; this call's write is kept
        finally:
            w._cond.release()


_writers: dict[int, WriteBehindWriter] = {}
_writers_lock = threading.Lock()


def writer_for(store: TrackingStore) -> WriteBehindWriter:
    """The process's writer for ``store`` (one per store object, made on first use)."""
    with _writers_lock:
        writer = _writers.get(id(store))
        if writer is None or writer.store is not store:
            writer = _writers[id(store)] = WriteBehindWriter(store)
        return writer


_hooked_pid: int | None = None


def _hook_multiprocessing_exit() -> None:
    """Flush at the exit of a ``multiprocessing`` child too (once per process, when a writer
    thread starts): a forked child leaves through ``os._exit`` after multiprocessing's
    finalizers, never through atexit; multiprocessing clears the finalizers it inherited."""
    global _hooked_pid
    if _hooked_pid == os.getpid():
        return
    from multiprocessing import util

    util.Finalize(None, _flush_at_exit, exitpriority=100)
    _hooked_pid = os.getpid()


def in_multiprocessing_child() -> bool:
    """True in a process started by ``multiprocessing`` (its parent may end it at any time)."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


def flush_all() -> None:
    """Flush every writer of this process; raise the first error after trying them all."""
    with _writers_lock:
        writers = list(_writers.values())
    first: BaseException | None = None
    for writer in writers:
        try:
            writer.flush()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


def settle() -> None:
    """Before a read (or a synchronous write) through the tracking API: flush every writer
    holding queued writes or an error; costs a dict scan when async logging is unused."""
    if _writers:
        for writer in list(_writers.values()):
            if writer.pending_or_busy:
                writer.flush()


def _flush_at_exit() -> None:
    try:
        flush_all()
    except Exception:  # at exit there is no caller left to raise to
        _log.exception("mloop: async tracking writes could not be written at exit")


def _forget_in_child() -> None:
    """A forked child must not write its parent's queue (the parent does): every writer it
    inherited (an active run may still hold one) starts empty, with fresh locks and no thread,
    so the child writes, flushes and flushes at exit only what it logs itself."""
    global _writers_lock
    _writers_lock = threading.Lock()
    for writer in list(_writers.values()):
        writer._reset_in_child()


def _flush_before_fork() -> None:
    """Before a fork: write what is queued, so parent and child agree on what is in the store
    (a child logging to a run whose start was still queued would find no run). A failure stays
    for the parent's next call."""
    for writer in list(_writers.values()):
        if writer.pending_or_busy:
            writer.flush(keep_error=True)


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_flush_before_fork, after_in_child=_forget_in_child)
