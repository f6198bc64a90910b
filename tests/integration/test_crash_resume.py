"""Kill -9 of the runner during a step leaves a resumable run, and --resume completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mloop.artifacts import connect as connect_artifacts
from mloop.config import load_settings
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import ExecutionState, RunState
from mloop.pipelines.loading import load_pipeline

pytestmark = pytest.mark.integration

PIPELINE = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    import polars as pl
    from mloop import pipeline, step

    @step
    def make(n: int) -> pl.DataFrame:
        return pl.DataFrame({"x": list(range(n))})

    @step
    def slow_square(df: pl.DataFrame) -> pl.DataFrame:
        marker = Path("in_slow_step")
        if not Path("let_it_finish").exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # the test kills the process here
        return df.with_columns(y=pl.col("x") ** 2)

    @step
    def total(df: pl.DataFrame) -> int:
        return int(df["y"].sum())

    @pipeline
    def crashy(n: int = 1000):
        total(slow_square(make(n)))

    if __name__ == "__main__":
        crashy.run()
    """
)

PROJECT = (
    "project: crash\nenvironments:\n  dev:\n"
    "    runner: {type: local, heartbeat_s: 0.2, lease_s: 1.5}\n"
)


def test_kill_minus_nine_then_resume(project_dir: Path):
    (project_dir / "flow.py").write_text(PIPELINE)
    (project_dir / "mloop.yaml").write_text(PROJECT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    proc = subprocess.Popen([sys.executable, "flow.py"], cwd=project_dir, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (project_dir / "in_slow_step").exists():
            assert proc.poll() is None, "the pipeline process ended before reaching the slow step"
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    settings = load_settings(project_dir)
    md = connect_metadata(settings.metadata_url)
    (run,) = md.search_runs(pipeline_name="crashy")
    assert run.state is RunState.RUNNING  # nobody has noticed yet
    time.sleep(1.6)  # the lease (1.5 s) runs out
    assert md.reap_abandoned(1.5) == [run.id]
    by_step = {e.step_name: e for e in md.list_executions(run.id)}
    assert by_step["make"].state is ExecutionState.SUCCEEDED
    assert by_step["slow_square"].state is ExecutionState.ABANDONED
    assert md.get_run(run.id).state is RunState.ABANDONED

    artifacts = connect_artifacts(settings.artifact_root)
    visible = list(artifacts.iter_uris(f"runs/{run.id}"))
    assert visible and all("/make-" in uri for uri in visible), visible

    (project_dir / "let_it_finish").write_text("yes")
    flow = load_pipeline(str(project_dir / "flow.py") + ":crashy")
    handle = flow.run_with({}, resume=run.id, settings=settings)
    assert handle.id == run.id and handle.state is RunState.SUCCEEDED
    assert handle.outputs["total"] == sum(x * x for x in range(1000))
    history = [(e.step_name, e.state.value) for e in handle.executions]
    assert history.count(("make", "succeeded")) == 1  # not run again
    assert ("slow_square", "abandoned") in history and ("slow_square", "succeeded") in history


def test_resume_refuses_a_run_that_is_still_alive(project_dir: Path):
    from mloop.errors import MloopError

    (project_dir / "flow.py").write_text(PIPELINE)
    settings = load_settings(project_dir)
    md = connect_metadata(settings.metadata_url)
    flow = load_pipeline(str(project_dir / "flow.py") + ":crashy")
    graph = flow.compile()
    md.upsert_pipeline(graph.name, graph.version, graph.spec())
    run = md.create_run(
        "crashy",
        pipeline_name="crashy",
        pipeline_version=graph.version,
        pipeline_params=graph.params,
    )
    with pytest.raises(MloopError, match="still running"):
        flow.run_with({}, resume=run.id, settings=settings)


def test_resume_right_after_kill_minus_nine_needs_no_wait(project_dir: Path):
    """The run names its host and pid, so a resume on the same host sees at once that the
    process is gone, with the default 60 s lease (issue 15, point 10)."""
    import socket

    (project_dir / "flow.py").write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    proc = subprocess.Popen([sys.executable, "flow.py"], cwd=project_dir, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (project_dir / "in_slow_step").exists():
            assert proc.poll() is None, "the pipeline process ended before reaching the slow step"
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    settings = load_settings(project_dir)
    md = connect_metadata(settings.metadata_url)
    (run,) = md.search_runs(pipeline_name="crashy")
    assert run.state is RunState.RUNNING
    assert run.host == socket.gethostname() and run.pid == proc.pid

    (project_dir / "let_it_finish").write_text("yes")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mloop", "run", "flow.py:crashy", "--resume", run.id],
        cwd=project_dir,
        env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # not the 60 s lease
    handle_run = md.get_run(run.id)
    assert handle_run.state is RunState.SUCCEEDED and handle_run.pid != proc.pid
    history = [(e.step_name, e.state.value) for e in md.list_executions(run.id)]
    assert ("slow_square", "abandoned") in history and history.count(("make", "succeeded")) == 1
