"""``--resume`` keeps the options the run was started with (issue 15, point 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop import pipeline, step
from mloop.config import load_settings
from mloop.errors import StepExecutionError
from mloop.metadata import connect as connect_metadata


@step
def source(n: int) -> list[int]:
    return list(range(n))


@step
def summed(xs: list[int]) -> int:
    if Path("FAIL").exists():
        raise RuntimeError("asked to fail")
    return sum(xs)


@step
def doubled(total: int) -> int:
    return 2 * total


@pipeline
def chain(n: int = 4):
    doubled(summed(source(n)))


def test_resume_keeps_no_cache(project_dir: Path):
    chain.run()  # fills the cache for every step
    Path("FAIL").write_text("x")
    with pytest.raises(StepExecutionError) as failed:
        chain.run_with({}, cache=False)
    run_id = failed.value.run_id
    md = connect_metadata(load_settings(project_dir).metadata_url)
    run = md.get_run(run_id)
    assert run.options["cache"] is False
    Path("FAIL").unlink()

    handle = chain.run_with({}, resume=run_id)  # no cache= given: the run's choice holds
    latest = {e.step_name: e.state.value for e in handle.executions}
    assert latest == {"source": "succeeded", "summed": "succeeded", "doubled": "succeeded"}
    assert handle.outputs["doubled"] == 12


def test_runs_record_their_process(project_dir: Path):
    import os
    import socket

    handle = chain.run()
    run = handle.run
    assert run.host == socket.gethostname() and run.pid == os.getpid()
    assert run.options == {"cache": True, "parallel": 1}


def test_process_gone_only_when_known_dead_here():
    import os
    import socket
    import subprocess
    import sys

    from mloop.pipelines.launch import process_gone

    here = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_gone(here, child.pid)  # exited and reaped
    assert not process_gone(here, os.getpid())  # alive
    assert not process_gone("another-host", child.pid)  # cannot tell from here
    assert not process_gone(None, child.pid) and not process_gone(here, None)


def test_a_live_run_is_still_refused_naming_its_process(project_dir: Path):
    import os
    import socket

    from mloop.errors import MloopError

    md = connect_metadata(load_settings(project_dir).metadata_url)
    graph = chain.compile()
    md.upsert_pipeline(graph.name, graph.version, graph.spec())
    run = md.create_run(
        "chain",
        pipeline_name="chain",
        pipeline_version=graph.version,
        pipeline_params=graph.params,
        host=socket.gethostname(),
        pid=os.getpid(),  # this very process: alive
    )
    with pytest.raises(MloopError, match=f"still running by pid {os.getpid()}"):
        chain.run_with({}, resume=run.id)
