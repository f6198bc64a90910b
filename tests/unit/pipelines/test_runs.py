"""Running pipelines on the embedded stores: states, outputs, caching, failures, resume."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import mloop
from mloop import pipeline, step
from mloop.artifacts import connect as connect_artifacts
from mloop.config import load_settings
from mloop.errors import StepExecutionError, StepTimeoutError
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import ExecutionState, RunState
from mloop.pipelines.hooks import RunHook

CALLS: list[str] = []


@step
def numbers(n: int = 4) -> list[int]:
    CALLS.append("numbers")
    return list(range(n))


@step
def total(xs: list[int]) -> int:
    CALLS.append("total")
    return sum(xs)


@step
def report(value: int, label: str = "sum") -> dict:
    CALLS.append("report")
    mloop.log_metrics({"total": float(value)})
    return {label: value}


@pipeline
def simple(n: int = 4, label: str = "sum"):
    report(total(numbers(n)), label=label)


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def states(handle) -> dict[str, str]:
    return {e.step_name: e.state.value for e in handle.executions}


def test_run_records_states_outputs_and_metrics(project_dir: Path):
    handle = simple.run(n=5)
    assert handle.state is RunState.SUCCEEDED
    assert states(handle) == {"numbers": "succeeded", "total": "succeeded", "report": "succeeded"}
    assert handle.outputs["total"] == 10
    assert handle.outputs["report"] == {"sum": 10}
    assert handle.metrics == {"total": 10.0}
    run = handle.run
    assert run.pipeline_name == "simple" and run.pipeline_params == {"n": 5, "label": "sum"}
    assert (project_dir / ".mloop").is_dir()


def test_full_rerun_is_cached_and_records_cached_executions(project_dir: Path):
    first = simple.run(n=3)
    CALLS.clear()
    second = simple.run(n=3)
    assert CALLS == []
    assert set(states(second).values()) == {"cached"}
    cached = second.executions[0]
    assert cached.cached_from == first.executions[0].id
    assert second.outputs["total"] == 3
    assert second.metrics == first.metrics == {"total": 3.0}  # cached steps carry their metrics


def test_parameter_change_reruns_only_that_step_and_downstream(project_dir: Path):
    simple.run(n=3)
    CALLS.clear()
    handle = simple.run(n=3, label="total")
    assert CALLS == ["report"]
    assert states(handle) == {"numbers": "cached", "total": "cached", "report": "succeeded"}


def test_cache_can_be_disabled_per_step_and_per_run(project_dir: Path):
    @step(cache=False)
    def always(xs: list[int]) -> int:
        CALLS.append("always")
        return len(xs)

    @pipeline
    def partly():
        always(numbers(2))

    partly.run()
    CALLS.clear()
    partly.run()
    assert CALLS == ["always"]
    CALLS.clear()
    partly.run_with({}, cache=False)
    assert CALLS == ["numbers", "always"]


def test_deleted_artifact_is_a_cache_miss(project_dir: Path):
    first = simple.run(n=2)
    store = connect_artifacts(load_settings().artifact_root)
    store.delete(first.artifacts("numbers")["output"].uri)
    CALLS.clear()
    second = simple.run(n=2)
    assert "numbers" in CALLS
    assert states(second)["numbers"] == "succeeded"


FAIL_FLAG: dict[str, bool] = {"fail": True}


@step
def fragile(xs: list[int]) -> int:
    CALLS.append("fragile")
    if FAIL_FLAG["fail"]:
        raise RuntimeError("disk on fire")
    return max(xs)


@step
def after_fragile(m: int) -> int:
    CALLS.append("after_fragile")
    return m + 1


@step
def independent(xs: list[int]) -> int:
    CALLS.append("independent")
    return min(xs)


@pipeline
def branching(n: int = 3):
    xs = numbers(n)
    after_fragile(fragile(xs))
    independent(xs)


def test_failure_is_recorded_downstream_skipped_and_other_branch_runs(project_dir: Path):
    FAIL_FLAG["fail"] = True
    with pytest.raises(StepExecutionError, match=r"fragile.*disk on fire") as info:
        branching.run()
    assert isinstance(info.value.__cause__, RuntimeError)
    md = connect_metadata(load_settings().metadata_url)
    run = md.get_run(info.value.run_id)
    assert run.state is RunState.FAILED
    by_step = {e.step_name: e for e in md.list_executions(run.id)}
    assert by_step["fragile"].state is ExecutionState.FAILED
    assert "disk on fire" in by_step["fragile"].error
    assert by_step["after_fragile"].state is ExecutionState.SKIPPED
    assert by_step["independent"].state is ExecutionState.SUCCEEDED


def test_resume_reexecutes_only_what_did_not_succeed(project_dir: Path):
    FAIL_FLAG["fail"] = True
    with pytest.raises(StepExecutionError) as info:
        branching.run(n=4)
    run_id = info.value.run_id
    FAIL_FLAG["fail"] = False
    CALLS.clear()
    handle = branching.run_with({}, resume=run_id)
    assert handle.id == run_id
    assert handle.state is RunState.SUCCEEDED
    assert sorted(CALLS) == ["after_fragile", "fragile"]
    assert handle.outputs["after_fragile"] == 4
    history = [(e.step_name, e.state.value) for e in handle.executions]
    assert ("fragile", "failed") in history and ("fragile", "succeeded") in history


def test_retries_with_backoff_then_success(project_dir: Path):
    attempts: list[int] = []

    @step(retries=2, retry_backoff_s=0.01)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return len(attempts)

    @pipeline
    def retrying():
        flaky()

    handle = retrying.run()
    assert handle.outputs["flaky"] == 3
    assert handle.executions[0].attempts == 3


def test_retries_exhausted_fail_with_the_attempt_count(project_dir: Path):
    @step(retries=1, retry_backoff_s=0.01, cache=False)
    def hopeless() -> int:
        raise ConnectionError("still down")

    @pipeline
    def failing():
        hopeless()

    with pytest.raises(StepExecutionError, match="after 2 attempts"):
        failing.run()


def test_timeout_fails_the_step(project_dir: Path):
    release = threading.Event()

    @step(timeout_s=0.2, cache=False)
    def slow() -> int:
        release.wait(5)
        return 1

    @pipeline
    def timed():
        slow()

    try:
        with pytest.raises(StepTimeoutError, match=r"timed out after 0\.2 s"):
            timed.run()
    finally:
        release.set()


def test_independent_steps_run_in_parallel(project_dir: Path):
    barrier = threading.Barrier(3, timeout=10)

    @step(cache=False)
    def meet(i: int) -> int:
        barrier.wait()  # only passes when three steps run at the same time
        return i

    @step(cache=False)
    def gather(a: int, b: int, c: int) -> int:
        return a + b + c

    @pipeline
    def fan():
        gather(meet(1), meet(2), meet(3))

    handle = fan.run_with({}, parallel=3)
    assert handle.outputs["gather"] == 6


def test_step_logs_are_captured_per_execution(project_dir: Path):
    @step(cache=False)
    def chatty() -> int:
        print("hello from the step")
        return 1

    @pipeline
    def talking():
        chatty()

    handle = talking.run()
    ex = handle.executions[0]
    assert ex.log_uri is not None
    store = connect_artifacts(load_settings().artifact_root)
    with store.open_local(ex.log_uri) as folder:
        assert "hello from the step" in (folder / "step.log").read_text()


def test_dataframes_and_arrays_pass_between_steps(project_dir: Path):
    @step
    def make() -> pl.DataFrame:
        return pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})

    @step
    def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
        return df.to_pandas()

    @step
    def to_array(df: pd.DataFrame) -> np.ndarray:
        return df["a"].to_numpy() * 2

    @pipeline
    def frames():
        to_array(to_pandas(make()))

    handle = frames.run()
    assert handle.outputs["make"].equals(pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]}))
    assert list(handle.outputs["to_array"]) == [2, 4, 6]
    art = handle.artifacts("make")["output"]
    assert art.type == "Dataset" and art.size > 0 and len(art.digest) == 64


def test_hooks_see_every_step_start_and_end(project_dir: Path):
    seen: list[tuple[str, str]] = []

    class Recorder(RunHook):
        def on_run_start(self, run, graph):
            seen.append(("run", "start"))

        def on_step_start(self, run, execution):
            seen.append((execution.step_name, "start"))

        def on_step_end(self, run, execution):
            seen.append((execution.step_name, execution.state.value))

        def on_run_end(self, run):
            seen.append(("run", run.state.value))

    simple.run_with({"n": 2}, hooks=[Recorder()])
    assert seen == [
        ("run", "start"),
        ("numbers", "start"),
        ("numbers", "succeeded"),
        ("total", "start"),
        ("total", "succeeded"),
        ("report", "start"),
        ("report", "succeeded"),
        ("run", "succeeded"),
    ]


def test_unpicklable_output_without_opt_in_fails_clearly(project_dir: Path):
    class Opaque:
        pass

    @step(cache=False)
    def opaque() -> Opaque:
        return Opaque()

    @pipeline
    def opaque_flow():
        opaque()

    with pytest.raises(StepExecutionError, match="allow_pickle"):
        opaque_flow.run()


def test_huge_integer_parameter_runs_end_to_end(project_dir: Path):
    handle = simple.run(n=3, label=str(2**70))
    assert handle.outputs["report"] == {str(2**70): 3}

    @step
    def echo(big: int) -> int:
        return big

    @pipeline
    def big_param(big: int = 2**70):
        echo(big)

    handle = big_param.run()
    assert handle.run.pipeline_params == {"big": 2**70}
