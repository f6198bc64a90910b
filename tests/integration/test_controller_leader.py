"""Two controller daemons on one metadata store never start the same run twice.

Both run ``mloop controller --interval 0.2`` against the same database (SQLite file, or a
PostgreSQL schema) while on-demand events wait; every event must end with exactly one run, and
both daemons must stop cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mloop._utils.clock import utc_now
from mloop.config import load_settings
from mloop.controller.ondemand import request_run
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState

pytestmark = pytest.mark.integration

PIPELINE = """
from mloop import pipeline, step

@step(cache=False)
def add(a: int, b: int = 2) -> int:
    return a + b

@pipeline
def tiny(a: int = 1):
    add(a=a)
"""
EVENTS = 6


def write_project(root: Path, metadata: str | None) -> None:
    (root / "pipelines").mkdir()
    (root / "pipelines" / "tiny.py").write_text(PIPELINE)
    project: dict = {
        "project": "ctl",
        "pipelines": {
            "tiny": {
                "entrypoint": "pipelines/tiny.py:tiny",
                "triggers": [{"policy": {"max_concurrent": 3}}],
            }
        },
    }
    if metadata:
        project["environments"] = {"dev": {"metadata": metadata}}
        project["default_environment"] = "dev"
    (root / "mloop.yaml").write_text(yaml.safe_dump(project))


def two_controllers_share_the_work(root: Path, metadata: str | None) -> None:
    write_project(root, metadata)
    settings = load_settings(root)
    store = connect(settings.metadata_url)
    state = store.controller_state()
    events = [
        request_run(store, settings, "tiny", reason=f"#{i}", params={"a": i}) for i in range(EVENTS)
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mloop", "controller", "--interval", "0.2"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [state.get_event(e.id) for e in events]
            if all(e.state.is_terminal for e in done):
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=20)[0].decode() for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    done = [state.get_event(e.id) for e in events]
    assert all(e.state is EventState.SUCCEEDED for e in done), [(e.state, e.error) for e in done]
    runs = store.search_runs(pipeline_name="tiny", limit=100)
    assert len(runs) == EVENTS  # no event started twice
    assert sorted(r.trigger for r in runs) == sorted(f"on_demand:{e.id}" for e in events)
    assert {e.run_id for e in done} == {r.id for r in runs}
    assert sorted(r.pipeline_params["a"] for r in runs) == list(range(EVENTS))
    assert state.get_lease("controller").expires_at <= utc_now()  # released on SIGTERM


def test_two_controllers_on_sqlite(project_dir: Path) -> None:
    two_controllers_share_the_work(project_dir, None)


def test_two_controllers_on_postgres(project_dir: Path, postgres_url: str) -> None:
    two_controllers_share_the_work(project_dir, postgres_url)
