"""The controller daemon of an environment runs the deployed package in its launcher process
(``python -m mloop.controller.launch``), not the project folder's newer code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package
from mloop.controller.daemon import Controller
from mloop.controller.ondemand import request_run
from mloop.pipelines.packaged import DEPLOYMENT_TAG, PACKAGE_TAG

pytestmark = pytest.mark.integration

PROJECT = """
environments:
  test: {metadata: sqlite:///.mloop/test.db, artifacts: .mloop/test}
pipelines:
  answer:
    entrypoint: pipelines/answer.py:answer
"""
PIPELINE = """
from mloop import pipeline, step
from value import VALUE


@step(cache=False)
def emit() -> dict:
    return {"value": VALUE}


@pipeline
def answer():
    emit()
"""


def value_of(env, run_id: str) -> int:  # type: ignore[no-untyped-def]
    [ex] = env.store.list_executions(run_id)
    [event] = [e for e in env.store.list_events(execution_id=ex.id) if e.kind.value == "output"]
    with env.artifacts.open_local(env.store.get_artifact(event.artifact_id).uri) as folder:
        return int(json.loads(next(folder.glob("*.json")).read_text())["value"])


def test_the_daemon_runs_the_deployed_package(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text(PROJECT)
    (project_dir / "pipelines").mkdir()
    (project_dir / "pipelines" / "answer.py").write_text(PIPELINE)
    (project_dir / "pipelines" / "value.py").write_text("VALUE = 1\n")
    env = open_environment(project_dir, "test")
    package = build_package(env, "answer")
    deployed = promotion.deploy(project_dir, "answer", "test", reason="v1", actor="ci")
    (project_dir / "pipelines" / "value.py").write_text("VALUE = 2\n")  # not deployed
    controller = Controller(env.settings, env.store, interval_s=0.5)
    request_run(env.store, env.settings, "answer", reason="run the deployment")
    result = controller.tick()
    assert len(result.started) == 1
    controller.wait_for_children(120)
    controller.tick()
    [event] = env.store.controller_state().list_events(pipeline="answer")
    assert event.state.value == "succeeded", event.error
    run = env.store.get_run(event.run_id or "")
    assert run.tags[PACKAGE_TAG] == package.digest
    assert run.tags[DEPLOYMENT_TAG] == deployed.deployment.id
    assert value_of(env, run.id) == 1
