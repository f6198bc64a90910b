"""Async logging (write-behind): order, read-your-writes, flush at exit, errors, threads,
params immutability, and pipelines never written behind."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import mloop
from mloop._utils.clock import utc_now
from mloop.errors import ConfigError, RunNotFoundError, TrackingWriteError, ValidationError
from mloop.metadata.entities import Metric, RunState
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.tracking import TrackingClient, write_behind
from mloop.tracking.logging_mode import async_logging_enabled


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield store
    try:
        write_behind.writer_for(store).flush()  # no test leaves writes for the next one
    finally:
        store.close()


def _async_run(store: SqlMetadataStore, i: int) -> str:
    with mloop.start_run("wb", store=store, async_logging=True, tags={"i": str(i)}) as run:
        mloop.log_params({"i": i, "kind": "x"})
        mloop.log_metrics({"loss": 1.0 / (i + 1)}, step=0)
        mloop.log_metrics({"loss": 0.5 / (i + 1)}, step=1)
    return run.id


def test_writes_are_queued_then_land_in_call_order(store: SqlMetadataStore) -> None:
    writer = write_behind.writer_for(store)
    with mloop.start_run("wb", store=store, async_logging=True) as run:
        mloop.set_tags({"stage": "a"})
        for step in range(5):
            mloop.log_metrics({"m": float(step)}, step=step)
        mloop.log_metrics({"m": 99.0}, step=2)  # same step, later: wins among step 2 values
        mloop.set_tags({"stage": "b"})  # set again: the later value wins
        mloop.log_params({"lr": 0.1})
    with mloop.start_run("wb", store=store, async_logging=True) as failed:
        mloop.log_metrics({"m": 1.0})
        mloop.end_run(RunState.FAILED, error="stopped")
    writer.flush()
    assert writer.pending == 0
    got = store.get_run(run.id)
    assert got.state is RunState.SUCCEEDED and got.tags == {"stage": "b"}
    assert got.ended_at is not None and got.ended_at >= got.started_at
    assert [(m.step, m.value) for m in store.get_metrics(run.id, "m")] == [
        (0, 0.0),
        (1, 1.0),
        (2, 2.0),
        (2, 99.0),
        (3, 3.0),
        (4, 4.0),
    ]
    assert store.latest_metrics([run.id])[run.id] == {"m": 4.0}
    assert store.get_params(run.id) == {"lr": "0.1"}
    done = store.get_run(failed.id)
    assert (done.state, done.error) == (RunState.FAILED, "stopped")


def test_times_are_those_of_the_calls_not_of_the_write(store: SqlMetadataStore) -> None:
    before = utc_now()
    run_id = _async_run(store, 0)
    after = utc_now()
    write_behind.writer_for(store).flush()
    got = store.get_run(run_id)
    assert before <= got.started_at <= after and got.ended_at is not None
    assert before <= got.ended_at <= after + timedelta(milliseconds=1)
    assert got.heartbeat_at is None  # a tracking run holds no lease (never reaped)


def test_reads_through_the_tracking_api_see_their_own_writes(store: SqlMetadataStore) -> None:
    ids = [_async_run(store, i) for i in range(30)]
    page = TrackingClient(store).search_runs("wb", limit=100)  # no explicit flush
    assert sorted(r.id for r in page) == sorted(ids)
    assert {r.params["i"] for r in page} == {str(i) for i in range(30)}
    assert all(r.state is RunState.SUCCEEDED and "loss" in r.metrics for r in page)
    with mloop.start_run("wb", store=store, async_logging=True) as run:
        assert run.info.state is RunState.RUNNING  # the queued start is flushed by the read
        mloop.log_params({"a": 1})
        assert TrackingClient(store).get_params(run.id) == {"a": "1"}


def test_log_artifact_flushes_the_run_before_recording_it(
    store: SqlMetadataStore, tmp_path: Path
) -> None:
    from mloop.artifacts.local import LocalArtifactStore

    files = LocalArtifactStore(tmp_path / "artifacts")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with mloop.start_run("wb", store=store, artifacts=files, async_logging=True) as run:
        artifact = mloop.log_artifact(tmp_path / "notes.txt")
    assert store.get_artifact(artifact.id).properties["run_id"] == run.id


def test_a_changed_param_raises_at_the_call(store: SqlMetadataStore) -> None:
    with mloop.start_run("wb", store=store, async_logging=True) as run:
        mloop.log_params({"lr": 0.1, "depth": 3})
        mloop.log_params({"lr": 0.1})  # the same value again is fine
        with pytest.raises(ValidationError, match=r"'lr' of run .* is already '0\.1'"):
            mloop.log_params({"lr": 0.2, "new": 1})
    write_behind.writer_for(store).flush()
    assert store.get_params(run.id) == {"lr": "0.1", "depth": "3"}  # nothing of the bad call


def test_params_of_a_run_not_started_by_the_writer_are_checked_by_the_store(
    store: SqlMetadataStore,
) -> None:
    run = store.create_run("sync")
    store.log_params(run.id, {"lr": "0.1"})
    writer = write_behind.writer_for(store)
    with pytest.raises(ValidationError, match=r"already '0\.1'"):
        writer.log_params(run.id, {"lr": 0.3})
    with pytest.raises(RunNotFoundError):
        writer.log_params("nosuchrun0000", {"lr": 0.3})


def test_a_failed_write_surfaces_on_the_next_call_and_spares_other_runs(
    store: SqlMetadataStore, tmp_path: Path
) -> None:
    writer = write_behind.writer_for(store)
    first = store.create_run("sync")
    blocker = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the writer's batch waits
    try:
        writer.set_tags(first.id, {"x": "0"})
        _wait(lambda: writer.pending == 0)  # that batch is taken, and waiting for the lock
        writer.log_metrics("nosuchrun0000", [Metric("m", 1.0)])  # the next batch: a bad write
        good = _async_run(store, 1)  # ... and a good run, in the same transaction
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    with pytest.raises(TrackingWriteError, match="nosuchrun0000") as caught:
        writer.flush()
    assert caught.value.run_ids == ("nosuchrun0000",)
    assert isinstance(caught.value.__cause__, RunNotFoundError)
    assert store.get_run(good).state is RunState.SUCCEEDED  # retried alone, written
    assert store.get_params(good) == {"i": "1", "kind": "x"}
    writer.flush()  # raised once, then cleared
    writer.log_metrics("nosuchrun0000", [Metric("m", 1.0)])
    _wait(lambda: writer.failed)
    with pytest.raises(TrackingWriteError):  # surfaces on the next call, not only on flush
        writer.set_tags(good, {"x": "1"})
    assert not writer.failed
    writer.flush()
    assert store.get_run(good).tags["x"] == "1"  # the call that raised kept its own write
    writer.log_metrics("nosuchrun0000", [Metric("m", 1.0)])
    _wait(lambda: writer.failed)
    before = len(store.search_runs(experiment="wb", limit=1000))
    with pytest.raises(TrackingWriteError):  # a start raises before queuing: no orphan run
        mloop.start_run("wb", store=store, async_logging=True)
    writer.flush()
    assert len(store.search_runs(experiment="wb", limit=1000)) == before
    assert mloop.active_run() is None


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_two_threads_writing_behind_at_once(store: SqlMetadataStore) -> None:
    ids: dict[int, list[str]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(100):
                ids[thread].append(_async_run(store, thread * 1000 + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    mloop.flush()
    found = store.search_runs(experiment="wb", limit=1000, include_data=True)
    assert len(found) == 200 and {r.id for r in found} == set(ids[0] + ids[1])
    assert all(r.params["i"] == r.tags["i"] and r.state is RunState.SUCCEEDED for r in found)


def test_queued_writes_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = textwrap.dedent(
        f"""
        import mloop
        from mloop.metadata.sql.store import SqlMetadataStore
        store = SqlMetadataStore.open({url!r})
        for i in range(200):
            with mloop.start_run("exit", store=store) as run:
                mloop.log_params({{"i": i}})
                mloop.log_metrics({{"m": float(i)}})
        print(run.id)
        """
    )
    env = {**os.environ, "MLOOP_ASYNC_LOGGING": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip()
    store = SqlMetadataStore.open(url)
    try:
        found = store.search_runs(experiment="exit", limit=1000, include_data=True)
        assert len(found) == 200 and all(r.state is RunState.SUCCEEDED for r in found)
        assert store.get_params(last) == {"i": "199"}
        assert store.latest_metrics([last])[last] == {"m": 199.0}
    finally:
        store.close()


def test_multiprocessing_children_lose_nothing(tmp_path: Path) -> None:
    """A forked multiprocessing child leaves through os._exit (no atexit): its queued runs were
    all lost (0 of 4), and a ``with Pool`` terminates its workers right after the last task
    (a run or more lost). multiprocessing's exit hook flushes, and in a child each run's end
    waits for its rows."""
    url = f"sqlite:///{tmp_path / 'mp.db'}"
    script = textwrap.dedent(
        f"""
        import multiprocessing
        import mloop
        from mloop.metadata import connect

        def child(i):
            with mloop.start_run("mp", store=connect({url!r}), async_logging=True):
                mloop.log_params({{"i": i}})
                mloop.log_metrics({{"m": float(i)}})

        if __name__ == "__main__":
            fork = multiprocessing.get_context("fork")
            procs = [fork.Process(target=child, args=(i,)) for i in range(4)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
                assert p.exitcode == 0
            with fork.Pool(2) as pool:
                pool.map(child, range(10, 16))
        """
    )
    (tmp_path / "mp_script.py").write_text(script, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "mp_script.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    store = SqlMetadataStore.open(url)
    try:
        found = store.search_runs(experiment="mp", limit=100, include_data=True)
        assert sorted(int(r.params["i"]) for r in found) == [0, 1, 2, 3, *range(10, 16)]
        assert all(r.state is RunState.SUCCEEDED for r in found)
        assert all(r.metrics == {"m": float(r.params["i"])} for r in found)
    finally:
        store.close()


def test_pipeline_steps_are_never_written_behind(
    store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOOP_ASYNC_LOGGING", "1")
    run = store.create_run("pipe", pipeline_name="p")
    execution = store.create_execution(run.id, "train")
    with mloop.tracking.run_context(run.id, execution.id, store=store):
        mloop.log_metrics({"auc": 0.9})
        mloop.log_params({"k": 1})
    # no flush of any writer: the step's writes are in the store when the context exits
    assert store.get_params(run.id) == {"k": "1"}
    assert [m.execution_id for m in store.get_metrics(run.id)] == [execution.id]
    assert write_behind.writer_for(store).pending == 0


def test_the_mode_comes_from_argument_then_variable_then_project_file(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert async_logging_enabled() is False
    (project_dir / "mloop.yaml").write_text("tracking: {async_logging: true}\n", encoding="utf-8")
    assert async_logging_enabled() is True
    assert async_logging_enabled(False) is False
    monkeypatch.setenv("MLOOP_ASYNC_LOGGING", "0")
    assert async_logging_enabled() is False
    assert async_logging_enabled(True) is True
    monkeypatch.setenv("MLOOP_ASYNC_LOGGING", "maybe")
    with pytest.raises(ConfigError, match="MLOOP_ASYNC_LOGGING"):
        async_logging_enabled()
    monkeypatch.delenv("MLOOP_ASYNC_LOGGING")
    (project_dir / "mloop.yaml").write_text("tracking: {async_logging: false}\n", encoding="utf-8")
    os.utime(project_dir / "mloop.yaml", ns=(1, 1))  # a new modification time: read again
    assert async_logging_enabled() is False


def test_an_idle_writer_thread_ends_and_the_next_write_starts_one(
    store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_behind, "IDLE_S", 0.05)
    writer = write_behind.WriteBehindWriter(store)
    first = _async_run(store, 0)  # through the store's shared writer: a run to tag
    write_behind.writer_for(store).flush()
    writer.set_tags(first, {"a": "1"})
    writer.flush()
    thread = writer._thread
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive() and writer._thread is None
    writer.set_tags(first, {"a": "2"})
    writer.flush()
    assert store.get_run(first).tags["a"] == "2"
