"""A ``new_data`` trigger starts a run that reads the new files (issue 15, point 1).

Before the fix the step reading ``data/incoming/`` was cached on the folder's name, so the
triggered "retrain" finished in milliseconds on the old rows. Here a real controller fires on
new files and starts a real launcher process; the run's step must execute and count every row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mloop.config import load_settings
from mloop.controller.daemon import Controller
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState

pytestmark = pytest.mark.integration

PIPELINE = """
from pathlib import Path

import polars as pl

from mloop import pipeline, step


@step
def load(folder: str) -> pl.DataFrame:
    return pl.concat([pl.read_csv(p) for p in sorted(Path(folder).glob("*.csv"))])


@step
def fit(data: pl.DataFrame) -> dict:
    return {"rows": data.height, "mean": float(data["x"].mean())}


@pipeline
def training(folder: str = "data/incoming"):
    fit(load(folder))
"""


@pytest.fixture
def controller(project_dir: Path) -> Iterator[Controller]:
    (project_dir / "pipelines").mkdir()
    (project_dir / "pipelines" / "training.py").write_text(PIPELINE)
    (project_dir / "data" / "incoming").mkdir(parents=True)
    project = {
        "project": "retrain",
        "pipelines": {
            "training": {
                "entrypoint": "pipelines/training.py:training",
                "triggers": [
                    {"new_data": {"path": "data/incoming/", "min_files": 1}},
                    {"policy": {"max_concurrent": 1, "debounce_s": 0}},
                ],
            }
        },
    }
    (project_dir / "mloop.yaml").write_text(yaml.safe_dump(project))
    settings = load_settings(project_dir)
    ctl = Controller(settings, connect(settings.metadata_url), interval_s=0.5)
    yield ctl
    for child in ctl._children.values():  # end only the launchers this test started
        if child.poll() is None:
            child.kill()
        child.wait(30)


def fire_and_finish(ctl: Controller) -> str:
    """One tick that fires new_data and starts its launcher; wait for the run; its id."""
    result = ctl.tick()
    assert [e.kind for e in result.fired] == ["new_data"], result
    event_id = result.fired[0].id
    deadline = time.monotonic() + 120
    while True:
        event = ctl.state.get_event(event_id)
        if event.state.is_terminal:
            break
        assert time.monotonic() < deadline, "the triggered run did not finish in 120 s"
        time.sleep(0.1)
        ctl.tick()
    assert event.state is EventState.SUCCEEDED, event.error
    assert event.run_id is not None
    return event.run_id


def test_new_data_trigger_runs_on_the_new_rows(controller: Controller, project_dir: Path):
    from mloop.artifacts import connect as connect_artifacts
    from mloop.pipelines.run_handle import RunHandle

    incoming = project_dir / "data" / "incoming"
    (incoming / "2026-01-01.csv").write_text("x\n1\n2\n")
    first = fire_and_finish(controller)

    time.sleep(0.05)  # the new file's mtime is after the first firing's watermark
    (incoming / "2026-01-02.csv").write_text("x\n10\n20\n30\n")
    second = fire_and_finish(controller)

    store = controller.store
    artifacts = connect_artifacts(controller.settings.artifact_root)
    assert RunHandle(first, store, artifacts).outputs["fit"] == {"rows": 2, "mean": 1.5}
    retrained = RunHandle(second, store, artifacts)
    assert {e.step_name: e.state.value for e in retrained.executions} == {
        "load": "succeeded",
        "fit": "succeeded",
    }
    assert retrained.outputs["fit"] == {"rows": 5, "mean": 12.6}
