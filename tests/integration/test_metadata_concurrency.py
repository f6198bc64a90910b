"""Two OS processes writing to one metadata store at once: every row lands, no error.

On SQLite this checks that write transactions take the lock up front (``BEGIN IMMEDIATE``) and
wait on it (busy timeout) rather than failing with "database is locked"; both processes also
race to create the fresh database.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mloop.metadata.sql.store import SqlMetadataStore

pytestmark = pytest.mark.integration

RUNS_PER_PROCESS = 200
METRICS_PER_RUN = 5

_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mloop._utils.clock import utc_now
    from mloop._utils.ids import new_id
    from mloop.metadata.entities import Artifact, ExecutionState, Metric, RunState
    from mloop.metadata.sql.store import SqlMetadataStore

    url, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    runs, per_run = int(sys.argv[4]), int(sys.argv[5])
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    store = SqlMetadataStore.open(url)
    for i in range(runs):
        run = store.create_run(name, tags={"i": str(i)})
        store.log_params(run.id, {"i": i, "worker": name})
        ex = store.create_execution(run.id, "train", cache_key=f"{name}-{i}")
        art = Artifact(new_id(), "Model", f"runs/{run.id}/model", "0" * 64, 1, utc_now())
        store.finish_execution(ex.id, ExecutionState.SUCCEEDED, new_artifacts=[art],
                               outputs={"model": art.id})
        store.log_metrics(run.id, [Metric("loss", 1.0 / (s + 1), s) for s in range(per_run)])
        store.finish_run(run.id, RunState.SUCCEEDED)
    store.close()
    print("done", name)
    """
)


def _hammer(url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                url,
                str(go),
                name,
                str(RUNS_PER_PROCESS),
                str(METRICS_PER_RUN),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    time.sleep(0.5)  # let both interpreters import before they start together
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert out.startswith("done"), err
    store = SqlMetadataStore.open(url)
    try:
        for name in ("w1", "w2"):
            found = store.search_runs(experiment=name, limit=10_000)
            assert len(found) == RUNS_PER_PROCESS
            assert {r.tags["i"] for r in found} == {str(i) for i in range(RUNS_PER_PROCESS)}
            assert all(r.state.value == "succeeded" for r in found)
            latest = store.latest_metrics([r.id for r in found])
            assert all(v == {"loss": 1.0 / METRICS_PER_RUN} for v in latest.values())
            sample = found[len(found) // 2]
            assert len(store.get_metrics(sample.id)) == METRICS_PER_RUN
            assert store.get_params(sample.id)["worker"] == name
            [ex] = store.list_executions(sample.id)
            assert ex.state.value == "succeeded"
            assert len(store.list_events(execution_id=ex.id)) == 1
            assert store.find_cached(f"{name}-7") is not None
    finally:
        store.close()


def test_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    _hammer(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


def test_two_processes_share_one_postgres_schema(postgres_url: str, tmp_path: Path) -> None:
    _hammer(postgres_url, tmp_path)
