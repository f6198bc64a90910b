"""A launcher that dies before its run exists is noticed promptly by another controller; a slow
one that is alive and heartbeating is left alone.

Controller A starts a real launcher (``python -m mloop.controller.launch``) whose pipeline
module takes a minute to import, so no run row exists yet; A then "dies" (gives up its lease)
and controller B takes over. The test kills that launcher with SIGKILL (a process it started,
through A) and checks how fast B fails the event: at once on the same host (the process is
gone), within the heartbeat timeout from another host. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.config import load_settings
from mloop.controller.daemon import LEASE_NAME, Controller
from mloop.controller.ondemand import request_run
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState, TriggerEvent

pytestmark = pytest.mark.integration

PIPELINE = """
import time
from pathlib import Path

from mloop import pipeline, step

if Path(__file__).with_name("slow.flag").exists():  # the launcher imports this before any run
    time.sleep(60)


@step(cache=False)
def add(a: int, b: int = 2) -> int:
    return a + b


@pipeline
def tiny(a: int = 1):
    add(a=a)
"""
HEARTBEAT_S = 0.2
TIMEOUT_S = 2.0


def write_project(root: Path, metadata: str | None) -> None:
    (root / "pipelines").mkdir()
    (root / "pipelines" / "tiny.py").write_text(PIPELINE)
    (root / "pipelines" / "slow.flag").write_text("")
    project: dict = {
        "project": "launchers",
        "pipelines": {
            "tiny": {
                "entrypoint": "pipelines/tiny.py:tiny",
                "triggers": [{"policy": {"max_concurrent": 1, "backoff_s": 0.1}}],
            }
        },
    }
    if metadata:
        project["environments"] = {"dev": {"metadata": metadata}}
        project["default_environment"] = "dev"
    (root / "mloop.yaml").write_text(yaml.safe_dump(project))


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    made: list[Controller] = []
    yield made
    for controller in made:  # end only the launchers these tests started
        for child in controller._children.values():
            if child.poll() is None:
                child.kill()
            child.wait(30)


def make(root: Path, made: list[Controller]) -> Controller:
    settings = load_settings(root)
    controller = Controller(
        settings,
        connect(settings.metadata_url),
        interval_s=0.5,
        launcher_heartbeat_s=HEARTBEAT_S,
        launcher_timeout_s=TIMEOUT_S,
    )
    made.append(controller)
    return controller


def wait_for(predicate, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        time.sleep(0.05)


def launch_then_lose_the_controller(root: Path, made: list[Controller]) -> tuple[Any, TriggerEvent]:
    """A starts a slow launcher and goes away; returns (the launcher process, its event)."""
    first = make(root, made)
    event = request_run(first.store, first.settings, "tiny", reason="slow one")
    assert [e.id for e in first.tick().started] == [event.id]
    child = first._children[event.id]
    recorded = first.state.get_event(event.id).heartbeat_at  # set by A when it started it
    assert recorded is not None
    running = wait_for(
        lambda: (e := first.state.get_event(event.id)).heartbeat_at > recorded and e,
        30,
        "the launcher's first heartbeat",
    )
    assert running.state is EventState.RUNNING and running.run_id is None
    assert running.launcher_pid == child.pid and running.launcher_host == first.host
    assert running.claimed_by == first.holder
    first.state.release_lease(LEASE_NAME, first.holder)  # controller A is gone
    return child, running


def slow_launcher_is_left_alone(ctl: Controller, event: TriggerEvent) -> None:
    """Tick for twice the timeout: the live, heartbeating launcher's event stays running."""
    beats = set()
    deadline = time.monotonic() + 2 * TIMEOUT_S
    while time.monotonic() < deadline:
        result = ctl.tick()
        assert result.leader and event.id not in result.finished
        now = ctl.state.get_event(event.id)
        assert now.state is EventState.RUNNING, now.error
        beats.add(now.heartbeat_at)
        time.sleep(0.2)
    assert len(beats) > 3  # it kept beating


def next_trigger_runs(root: Path, ctl: Controller) -> None:
    (root / "pipelines" / "slow.flag").unlink()
    time.sleep(0.2)  # the 0.1 s backoff after one failure
    event = request_run(ctl.store, ctl.settings, "tiny", reason="next one")
    assert [e.id for e in ctl.tick().started] == [event.id]
    ctl.wait_for_children(60)
    ctl.tick()
    done = ctl.state.get_event(event.id)
    assert done.state is EventState.SUCCEEDED and done.run_id is not None, done.error


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_launcher_fails_at_once_on_its_host(
    project_dir: Path, controllers: list[Controller], backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    write_project(project_dir, url)
    child, event = launch_then_lose_the_controller(project_dir, controllers)
    second = make(project_dir, controllers)
    slow_launcher_is_left_alone(second, event)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)  # reaped, as init reaps the orphan of a dead controller
    started = time.monotonic()
    result = second.tick()
    assert time.monotonic() - started < TIMEOUT_S
    assert event.id in result.finished
    failed = second.state.get_event(event.id)
    assert failed.state is EventState.FAILED and failed.run_id is None
    assert f"launcher pid {child.pid}" in failed.error and "exited before" in failed.error
    next_trigger_runs(project_dir, second)


def test_killed_launcher_on_another_host_fails_after_the_heartbeat_timeout(
    project_dir: Path, controllers: list[Controller]
) -> None:
    write_project(project_dir, None)
    child, event = launch_then_lose_the_controller(project_dir, controllers)
    elsewhere = make(project_dir, controllers)
    elsewhere.host = "another-host"  # it cannot look at the launcher's process
    slow_launcher_is_left_alone(elsewhere, event)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    killed = time.monotonic()
    assert event.id not in elsewhere.tick().finished  # the last heartbeat is recent
    wait_for(lambda: event.id in elsewhere.tick().finished, 3 * TIMEOUT_S, "failing the event")
    assert time.monotonic() - killed < TIMEOUT_S + 1.5
    failed = elsewhere.state.get_event(event.id)
    assert failed.state is EventState.FAILED and "no heartbeat" in failed.error
    next_trigger_runs(project_dir, elsewhere)
