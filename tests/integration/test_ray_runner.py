"""The Ray runner on a real local cluster (head + worker node), with metadata on PostgreSQL and
artifacts on S3 (moto's server): the runner contract, concurrency across nodes, resource
requests, a worker killed mid-step and a driver killed with kill -9 then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mloop.config import Settings, load_settings
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import EventKind, ExecutionState, RunState
from mloop.pipelines.loading import load_pipeline
from mloop.testing.contracts import RunnerContract

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def ray_settings(ray_cluster, postgres_url: str, s3_root: str, project_dir: Path) -> Settings:
    return Settings(
        project_dir=project_dir,
        project="ray",
        environment="dev",
        metadata_url=postgres_url,
        artifact_root=s3_root,
        runner={"type": "ray", "address": ray_cluster.address, "heartbeat_s": 0.5},
    )


class TestRayRunner(RunnerContract):
    __test__ = True
    backend = ("runners", "ray")

    @pytest.fixture
    def settings(self, ray_settings: Settings) -> Settings:
        return ray_settings


def _project(project_dir: Path, settings: Settings, flow: str, **runner: object) -> None:
    (project_dir / "flow.py").write_text(textwrap.dedent(flow))
    runner_cfg = json.dumps({**settings.runner, **runner})
    (project_dir / "mloop.yaml").write_text(
        "project: ray\nenvironments:\n  dev:\n"
        f"    metadata: {json.dumps(settings.metadata_url)}\n"
        f"    artifacts: {json.dumps(settings.artifact_root)}\n"
        f"    runner: {runner_cfg}\n"
    )


FANOUT = """
    import os, time
    from pathlib import Path
    import ray
    from mloop import pipeline, step

    @step(cache=False)
    def span(i: int) -> dict:
        start = time.time()
        time.sleep(1.5)
        return {"i": i, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
                "start": start, "end": time.time()}

    @step(cache=False, resources={"cpu": 2})
    def greedy() -> int:
        return 1

    @pipeline
    def fanout():
        span(0)
        span(1)

    @pipeline
    def too_big():
        greedy()
"""


def test_independent_steps_run_at_once_on_both_nodes(ray_settings: Settings, project_dir: Path):
    _project(project_dir, ray_settings, FANOUT)
    flow = load_pipeline(str(project_dir / "flow.py") + ":fanout")
    handle = flow.run_with({}, settings=load_settings(project_dir))
    a, b = handle.outputs["span"], handle.outputs["span_2"]
    assert a["node"] != b["node"]  # one CPU per node: the two tasks went to different nodes
    assert a["start"] < b["end"] and b["start"] < a["end"]  # and overlapped in time


def test_a_request_no_node_can_hold_fails_the_step_at_once(
    ray_settings: Settings, project_dir: Path
):
    from mloop.errors import StepExecutionError

    _project(project_dir, ray_settings, FANOUT)
    flow = load_pipeline(str(project_dir / "flow.py") + ":too_big")
    started = time.monotonic()
    with pytest.raises(StepExecutionError, match="no node of the Ray cluster"):
        flow.run_with({}, settings=load_settings(project_dir))
    assert time.monotonic() - started < 20  # never waits for a node that will not come


VICTIM = """
    import os, time
    from pathlib import Path
    import polars as pl
    from mloop import pipeline, step

    @step
    def make(n: int) -> pl.DataFrame:
        return pl.DataFrame({"x": list(range(n))})

    @step(detect_files=False)
    def slow_square(df: pl.DataFrame, work: str) -> pl.DataFrame:
        marker = Path(work) / "in_slow_step"
        if not (Path(work) / "let_it_finish").exists():
            with open(Path(work) / "pids", "a") as f:
                f.write(f"{os.getpid()}\\n")
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # the test kills the process here
        return df.with_columns(y=pl.col("x") ** 2)

    @step
    def total(df: pl.DataFrame) -> int:
        return int(df["y"].sum())

    @pipeline
    def crashy(n: int = 1000, work: str = "."):
        total(slow_square(make(n), work))

    if __name__ == "__main__":
        crashy.run(work=os.environ["WORK"])
"""


def _wait_for(path: Path, proc: subprocess.Popen[bytes] | None = None, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None:
            assert proc.poll() is None, "the driver ended before reaching the slow step"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    time.sleep(0.05)  # the writer has closed it
    return path.read_text()


def test_worker_killed_mid_step_is_retried_with_correct_lineage(
    ray_settings: Settings, project_dir: Path
):
    _project(project_dir, ray_settings, VICTIM)
    work = project_dir / "work"
    work.mkdir()
    flow = load_pipeline(str(project_dir / "flow.py") + ":crashy")

    import threading

    def kill_the_worker() -> None:
        pid = int(_wait_for(work / "in_slow_step"))
        (work / "let_it_finish").write_text("yes")  # the retry finishes
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    handle = flow.run_with({"work": str(work)}, settings=load_settings(project_dir))
    killer.join(timeout=5)
    assert handle.state is RunState.SUCCEEDED
    assert handle.outputs["total"] == sum(x * x for x in range(1000))
    history = [(e.step_name, e.state) for e in handle.executions]
    assert history == [
        ("make", ExecutionState.SUCCEEDED),
        ("slow_square", ExecutionState.ABANDONED),
        ("slow_square", ExecutionState.SUCCEEDED),
        ("total", ExecutionState.SUCCEEDED),
    ]
    dead = handle.executions[1]
    assert "worker running it died" in (dead.error or "")
    _assert_lineage(ray_settings, handle)


def _assert_lineage(settings: Settings, handle) -> None:  # type: ignore[no-untyped-def]
    """total read what the succeeded slow_square wrote, which read what make wrote; the
    abandoned execution produced nothing."""
    md = connect_metadata(settings.metadata_url)
    ok = {e.step_name: e for e in handle.executions if e.state is ExecutionState.SUCCEEDED}

    def events(ex, kind):  # type: ignore[no-untyped-def]
        return {e.name: e.artifact_id for e in md.list_events(execution_id=ex.id) if e.kind is kind}

    assert events(ok["slow_square"], EventKind.INPUT) == {
        "df": events(ok["make"], EventKind.OUTPUT)["output"]
    }
    assert events(ok["total"], EventKind.INPUT) == {
        "df": events(ok["slow_square"], EventKind.OUTPUT)["output"]
    }
    for ex in handle.executions:
        if not ex.state.done_ok:
            assert events(ex, EventKind.OUTPUT) == {}


def test_driver_kill_minus_nine_then_resume(ray_settings: Settings, project_dir: Path):
    _project(project_dir, ray_settings, VICTIM, heartbeat_s=0.2)
    work = project_dir / "work"
    work.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")},
        "WORK": str(work),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    proc = subprocess.Popen([sys.executable, "flow.py"], cwd=project_dir, env=env)
    try:
        task_pid = int(_wait_for(work / "in_slow_step", proc))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    settings = load_settings(project_dir)
    md = connect_metadata(settings.metadata_url)
    (run,) = md.search_runs(pipeline_name="crashy")
    assert run.state is RunState.RUNNING and run.pid == proc.pid  # nobody has noticed yet
    deadline = time.monotonic() + 30  # Ray cancels a dead driver's tasks: the worker goes
    while _alive(task_pid):
        assert time.monotonic() < deadline, "the dead driver's task kept running"
        time.sleep(0.1)

    (work / "let_it_finish").write_text("yes")
    result = subprocess.run(
        [sys.executable, "-m", "mloop", "run", "flow.py:crashy", "--resume", run.id],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    run = md.get_run(run.id)
    assert run.state is RunState.SUCCEEDED and run.pid != proc.pid
    history = [(e.step_name, e.state) for e in md.list_executions(run.id)]
    # Ray stops a dead driver's worker either at once (the execution stays RUNNING until the
    # resume marks it ABANDONED) or by raising SystemExit in it (recorded FAILED on the spot).
    assert history[1][0] == "slow_square"
    assert history[1][1] in (ExecutionState.ABANDONED, ExecutionState.FAILED)
    assert history[:1] + history[2:] == [
        ("make", ExecutionState.SUCCEEDED),
        ("slow_square", ExecutionState.SUCCEEDED),
        ("total", ExecutionState.SUCCEEDED),
    ]
    from mloop.artifacts import connect as connect_artifacts
    from mloop.pipelines.run_handle import RunHandle

    handle = RunHandle(run.id, md, connect_artifacts(settings.artifact_root))
    assert handle.outputs["total"] == sum(x * x for x in range(1000))
    _assert_lineage(settings, handle)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
