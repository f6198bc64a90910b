"""Two processes running pipelines on one store at the same time lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mloop.config import load_settings
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import ExecutionState, RunState

pytestmark = pytest.mark.integration

RUNS_PER_PROCESS = 8
STEPS = 5

SCRIPT = textwrap.dedent(
    f"""
    import sys
    import mloop
    from mloop import pipeline, step

    @step
    def first(worker: str, i: int) -> dict:
        return {{"worker": worker, "i": i, "n": 0}}

    @step
    def nxt(d: dict) -> dict:
        mloop.log_metrics({{"depth": float(len(d))}})
        return {{**d, "n": d["n"] + 1}}

    @pipeline
    def busy(worker: str = "a", i: int = 0):
        d = first(worker, i)
        for _ in range({STEPS - 1}):
            d = nxt(d)

    if __name__ == "__main__":
        for i in range({RUNS_PER_PROCESS}):
            busy.run(worker=sys.argv[1], i=i)
    """
)


def _run_workers(project_dir: Path, env: dict[str, str]) -> None:
    (project_dir / "busy.py").write_text(SCRIPT)
    procs = [
        subprocess.Popen([sys.executable, "busy.py", name], cwd=project_dir, env=env)
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.wait(timeout=240) == 0


def _check(metadata_url: str) -> None:
    md = connect_metadata(metadata_url)
    runs = md.search_runs(pipeline_name="busy", limit=1000)
    assert len(runs) == 2 * RUNS_PER_PROCESS
    assert all(r.state is RunState.SUCCEEDED for r in runs)
    for run in runs:
        executions = md.list_executions(run.id)
        assert [e.state for e in executions] == [ExecutionState.SUCCEEDED] * STEPS
        assert len(md.get_metrics(run.id, "depth")) == STEPS - 1


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    return {**env, **extra}


def test_two_processes_on_one_sqlite_store(project_dir: Path):
    _run_workers(project_dir, _env())
    _check(load_settings(project_dir).metadata_url)


def test_two_processes_on_one_postgres_store(project_dir: Path, postgres_url: str):
    _run_workers(project_dir, _env(MLOOP_METADATA_URL=postgres_url))
    _check(postgres_url)
