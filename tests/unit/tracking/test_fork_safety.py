"""A forked child never writes what its parent holds: the metric values buffered at the fork
and the writes queued behind are the parent's (a child exiting normally flushed them too, so
every value was stored twice). They are written before the fork, so a child logging to the
inherited run finds it in the store, and the child writes only what it logs itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mloop.metadata.entities import RunState
from mloop.metadata.sql.store import SqlMetadataStore

SCRIPT = """
import os, sys
import mloop
from mloop.metadata.sql.store import SqlMetadataStore

store = SqlMetadataStore.open({url!r})
run = mloop.start_run("fork", store=store, async_logging={async_logging})
for i in range(5):
    mloop.log_metrics({{"m": float(i)}}, step=i)   # held (buffered or queued) at the fork
pid = os.fork()
if pid == 0:
    mloop.log_metrics({{"child": 1.0}}, step=0)    # the child's own value, on the same run
    mloop.flush()
    sys.exit(0)                                    # a normal exit: atexit runs in the child
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
mloop.log_metrics({{"m": 5.0}}, step=5)
mloop.end_run()
print("done")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.parametrize("async_logging", [False, True], ids=["sync", "async"])
def test_a_forked_child_writes_only_its_own_values(tmp_path: Path, async_logging: bool) -> None:
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    script = textwrap.dedent(SCRIPT).format(url=url, async_logging=async_logging)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    store = SqlMetadataStore.open(url)
    try:
        [run] = store.search_runs(experiment="fork")
        assert run.state is RunState.SUCCEEDED
        history = store.get_metrics(run.id, "m")
        assert [(m.step, m.value) for m in history] == [(i, float(i)) for i in range(6)]
        assert [m.value for m in store.get_metrics(run.id, "child")] == [1.0]
    finally:
        store.close()
