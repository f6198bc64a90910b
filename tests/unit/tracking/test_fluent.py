"""The fluent tracking API: runs, params, metrics, tags, nesting, threads and failures."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import mloop
from mloop.errors import ValidationError
from mloop.metadata.entities import RunState
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.tracking import fluent


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield store
    store.close()


def test_a_run_records_params_metrics_and_tags(store: SqlMetadataStore) -> None:
    with mloop.start_run("lending", run_name="gbm", tags={"team": "risk"}, store=store) as run:
        assert mloop.active_run().id == run.id  # type: ignore[union-attr]
        mloop.log_params({"max_depth": 6, "lr": 0.1})
        for step in range(3):
            mloop.log_metrics({"auc": 0.7 + step / 10, "loss": 1.0 / (step + 1)}, step=step)
        mloop.set_tags({"stage": "dev"})
    assert mloop.active_run() is None
    got = store.get_run(run.id)
    assert (got.experiment, got.name, got.state) == ("lending", "gbm", RunState.SUCCEEDED)
    assert got.tags == {"team": "risk", "stage": "dev"}
    assert store.get_params(run.id) == {"max_depth": "6", "lr": "0.1"}
    assert [m.value for m in store.get_metrics(run.id, "auc")] == pytest.approx([0.7, 0.8, 0.9])
    assert store.latest_metrics([run.id])[run.id] == pytest.approx({"auc": 0.9, "loss": 1 / 3})


def test_an_escaping_exception_fails_the_run_and_keeps_its_metrics(
    store: SqlMetadataStore,
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with mloop.start_run(store=store) as run:
            mloop.log_metrics({"loss": 0.5})
            raise RuntimeError("boom")
    got = store.get_run(run.id)
    assert got.state is RunState.FAILED and got.error == "RuntimeError: boom"
    assert [m.value for m in store.get_metrics(run.id)] == [0.5]
    assert mloop.active_run() is None


def test_metrics_wait_in_the_buffer_until_flushed(store: SqlMetadataStore) -> None:
    run = mloop.start_run(store=store)
    try:
        mloop.log_metrics({"a": 1.0, "b": 2.0})
        assert len(fluent._current.get().buffer) == 2  # type: ignore[union-attr]
        mloop.tracking.flush()
        assert {m.key for m in store.get_metrics(run.id)} == {"a", "b"}
        mloop.log_metrics({"a": 3.0}, step=1)
    finally:
        mloop.end_run()
    assert [m.value for m in store.get_metrics(run.id, "a")] == [1.0, 3.0]
    assert store.get_run(run.id).state is RunState.SUCCEEDED


def test_end_run_with_a_state(store: SqlMetadataStore) -> None:
    run = mloop.start_run(store=store)
    mloop.end_run(RunState.FAILED, error="stopped by hand")
    got = store.get_run(run.id)
    assert (got.state, got.error) == (RunState.FAILED, "stopped by hand")
    with pytest.raises(ValidationError, match="no active run"):
        mloop.end_run()


def test_validation_errors_name_the_problem(store: SqlMetadataStore) -> None:
    with pytest.raises(ValidationError, match="no active run"):
        mloop.log_metrics({"a": 1.0})
    with mloop.start_run(store=store) as run:
        with pytest.raises(ValidationError, match="'acc'"):
            mloop.log_metrics({"ok": 1.0, "acc": "high"})
        with pytest.raises(ValidationError, match="'flag'"):
            mloop.log_metrics({"flag": True})
        with pytest.raises(ValidationError, match="step"):
            mloop.log_metrics({"a": 1.0}, step=1.5)  # type: ignore[arg-type]
        mloop.log_metrics({"nan": math.nan, "inf": math.inf})
        mloop.log_params({"depth": 3})
        with pytest.raises(ValidationError, match="'depth'"):
            mloop.log_params({"depth": 4})
        with pytest.raises(ValidationError, match="name"):
            mloop.set_tags({"": "x"})
    values = {m.key: m.value for m in store.get_metrics(run.id)}
    assert set(values) == {"nan", "inf"}  # the rejected calls logged nothing
    assert math.isnan(values["nan"]) and values["inf"] == math.inf


def test_nested_runs_restore_the_outer_run(store: SqlMetadataStore) -> None:
    with mloop.start_run("outer", store=store) as outer:
        with mloop.start_run("inner") as inner:  # inherits the outer run's store
            mloop.log_metrics({"x": 1.0})
        assert mloop.active_run().id == outer.id  # type: ignore[union-attr]
        mloop.log_metrics({"y": 2.0})
    assert store.get_run(inner.id).tags == {fluent.PARENT_TAG: outer.id}
    assert [m.key for m in store.get_metrics(inner.id)] == ["x"]
    assert [m.key for m in store.get_metrics(outer.id)] == ["y"]


def test_run_context_attributes_metrics_per_thread(store: SqlMetadataStore) -> None:
    run = store.create_run("pipeline", pipeline_name="training")
    executions = [store.create_execution(run.id, f"step{i}") for i in range(4)]
    seen: dict[str, str | None] = {}
    barrier = threading.Barrier(len(executions))

    def step(execution_id: str) -> None:
        assert mloop.active_run() is None  # a new thread starts without a run
        with mloop.tracking.run_context(run.id, execution_id, store=store) as active:
            barrier.wait(timeout=10)  # every thread is inside its context at once
            mloop.log_metrics({"rows": 10.0})
            seen[execution_id] = active.execution_id
        assert mloop.active_run() is None

    threads = [threading.Thread(target=step, args=(e.id,)) for e in executions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen == {e.id: e.id for e in executions}
    metrics = store.get_metrics(run.id)
    assert sorted(m.execution_id for m in metrics) == sorted(e.id for e in executions)
    assert store.get_run(run.id).state is RunState.RUNNING  # run_context never ends a run


def test_run_context_flushes_on_an_exception(store: SqlMetadataStore) -> None:
    run = store.create_run("pipeline")
    with pytest.raises(KeyError):
        with mloop.tracking.run_context(run.id, store=store):
            mloop.log_metrics({"partial": 1.0})
            raise KeyError("x")
    assert [m.key for m in store.get_metrics(run.id)] == ["partial"]
    assert mloop.active_run() is None
    with mloop.tracking.run_context(run.id, store=store), pytest.raises(ValidationError):
        mloop.end_run()  # only start_run's runs can be ended this way


def test_default_store_comes_from_the_project_settings(project_dir: Path) -> None:
    from mloop.metadata.connect import connect, disconnect_all

    try:
        with mloop.start_run("defaults") as run:
            mloop.log_metrics({"a": 1.0})
        store = connect(f"sqlite:///{project_dir / '.mloop' / 'mloop.db'}")
        assert store.get_run(run.id).state is RunState.SUCCEEDED
        assert (project_dir / ".mloop" / "mloop.db").is_file()
    finally:
        disconnect_all()


def test_end_run_inside_the_block_keeps_its_state(store: SqlMetadataStore) -> None:
    with mloop.start_run(store=store) as run:
        mloop.log_metrics({"loss": 0.5})
        mloop.end_run(RunState.FAILED, error="diverged")
        assert mloop.active_run() is None
    got = store.get_run(run.id)
    assert (got.state, got.error) == (RunState.FAILED, "diverged")
    assert [m.value for m in store.get_metrics(run.id)] == [0.5]  # written with the end
