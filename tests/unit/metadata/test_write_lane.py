"""The write lane (tracking writes on a driver connection per thread): each thread has its own
connection, every call is committed before it returns, failures roll back, close releases all."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import mloop
from mloop.errors import RunNotFoundError, ValidationError
from mloop.metadata.entities import Metric, RunState
from mloop.metadata.sql.lane import DriverTx
from mloop.metadata.sql.store import SqlMetadataStore


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'lane.db'}")
    yield opened
    opened.close()


def _connection_of(store: SqlMetadataStore) -> Any:
    """The driver connection the calling thread's tracking writes use."""
    return store.lane.run(lambda tx: tx.cursor.connection)


def test_each_thread_writes_on_a_connection_of_its_own(store: SqlMetadataStore) -> None:
    seen: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)  # both threads alive at once: no reuse of an ended one's

    def work(name: str) -> None:
        barrier.wait()
        seen[name] = [id(_connection_of(store)) for _ in range(3)]
        barrier.wait()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen["a"])) == 1 and len(set(seen["b"])) == 1  # reused within a thread
    assert seen["a"][0] != seen["b"][0]  # never shared across threads
    assert store.lane.connections() == 2


def test_two_threads_tracking_at_once_land_every_run(store: SqlMetadataStore) -> None:
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(40):
                with mloop.start_run("threads", store=store) as run:
                    mloop.log_params({"k": k, "i": i})
                    mloop.log_metrics({"m": float(i)}, step=i)
                with lock:
                    ids.append(run.id)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    found = store.search_runs(experiment="threads", limit=1000, include_data=True)
    assert sorted(r.id for r in found) == sorted(ids) and len(ids) == 80
    assert all(
        r.state is RunState.SUCCEEDED and r.metrics["m"] == float(r.params["i"]) for r in found
    )


def test_an_ended_threads_connection_is_closed_by_the_next_new_thread(
    store: SqlMetadataStore,
) -> None:
    box: list[Any] = []
    first = threading.Thread(target=lambda: box.append(_connection_of(store)))
    first.start()
    first.join()
    second = threading.Thread(target=lambda: box.append(_connection_of(store)))
    second.start()
    second.join()
    assert store.lane.connections() == 1
    with pytest.raises(sqlite3.ProgrammingError):  # the ended thread's connection is closed
        box[0].execute("SELECT 1")
    box[1].execute("SELECT 1")


def test_a_returned_call_is_visible_to_another_connection(
    store: SqlMetadataStore, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "lane.db")
    try:
        run = store.create_run("seen", leased=False)
        assert other.execute("SELECT state FROM runs WHERE id = ?", (run.id,)).fetchall() == [
            ("running",)
        ]
        store.log_params(run.id, {"a": 1})
        store.set_tags(run.id, {"t": "x"})
        assert other.execute("SELECT value FROM params WHERE run_id = ?", (run.id,)).fetchall() == [
            ("1",)
        ]
        assert other.execute("SELECT value FROM tags WHERE run_id = ?", (run.id,)).fetchall() == [
            ("x",)
        ]
    finally:
        other.close()


def test_a_failed_call_rolls_back_and_leaves_the_connection_usable(
    store: SqlMetadataStore,
) -> None:
    run = store.create_run("fail", leased=False)

    def half(tx: DriverTx) -> None:
        tx.execute("INSERT INTO tags (run_id, key, value) VALUES (?, 'half', 'x')", (run.id,))
        raise ValueError("boom")

    with pytest.raises(ValueError):
        store.lane.run(half)
    assert not _connection_of(store).in_transaction
    store.log_params(run.id, {"a": 1})
    with pytest.raises(ValidationError):
        store.log_params(run.id, {"a": 2, "b": 3})  # "b" must not land with the refused "a"
    with pytest.raises(RunNotFoundError):
        store.set_tags("0" * 26, {"t": "x"})
    with pytest.raises(RunNotFoundError):
        store.log_metrics("0" * 26, [Metric("m", 1.0, 0)])
    assert store.get_params(run.id) == {"a": "1"}
    assert store.get_run(run.id).tags == {}


def test_close_closes_every_threads_connection(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'closed.db'}")
    box: list[Any] = []
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        box.append(_connection_of(store))
        started.set()
        release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(10)
    mine = _connection_of(store)
    store.close()
    release.set()
    t.join()
    for conn in (mine, box[0]):
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_in_memory_store_shares_its_single_connection(tmp_path: Path) -> None:
    store = SqlMetadataStore.open("sqlite://")
    try:
        run = store.create_run("mem", leased=False)
        store.log_params(run.id, {"a": 1})
        assert store.get_params(run.id) == {"a": "1"}  # the reads see the lane's writes
        assert store.lane.connections() == 0
    finally:
        store.close()


def test_tracking_calls_check_nothing_out_of_the_pool(store: SqlMetadataStore) -> None:
    """The hot path's cost was the pool: a checkout, a reset and a begin event per call."""
    checkouts: list[object] = []

    def seen(*args: object) -> None:
        checkouts.append(args)

    sa.event.listen(store.engine, "checkout", seen)
    try:
        with mloop.start_run("warm", store=store):  # this thread's lane connection: made once
            mloop.log_params({"a": 1})
        checkouts.clear()
        for i in range(20):
            with mloop.start_run("pool", store=store):
                mloop.log_params({"i": i})
                mloop.set_tags({"t": "x"})
                mloop.log_metrics({"m": 1.0})
        assert checkouts == []
    finally:
        sa.event.remove(store.engine, "checkout", seen)


def test_a_store_dropped_without_close_still_closes_its_connections(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'dropped.db'}")
    store.create_run("dropped", leased=False)
    conn = _connection_of(store)
    del store
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_lane_connections_carry_the_engines_pragmas(store: SqlMetadataStore) -> None:
    """WAL, synchronous=NORMAL (1), foreign keys and the busy timeout, as every engine
    connection: the durability and locking of a tracking call are those of any other write."""
    conn = _connection_of(store)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_a_write_after_the_exit_finalizer_closed_the_connections_opens_a_new_one(
    store: SqlMetadataStore,
) -> None:
    """At interpreter exit the lane's finalizer may close its connections before the metric
    buffers flush (atexit order); the flush then wrote on the closed connection and the
    buffered values were lost (seen with SQLAlchemy 2.0.25: 'NoneType' has no 'cursor')."""
    from mloop.metadata.sql.lane import _close_all

    run = store.create_run("exit")
    first = _connection_of(store)
    _close_all(store.lane._held, store.lane._lock)  # what the finalizer does at exit
    store.log_metrics(run.id, [Metric("loss", 0.25, 7)])
    assert _connection_of(store) is not first
    assert [(m.key, m.value) for m in store.get_metrics(run.id)] == [("loss", 0.25)]
