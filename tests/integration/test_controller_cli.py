"""``mloop trigger`` and ``mloop controller --once`` from the command line on a tiny project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PIPELINE = """
from mloop import pipeline, step

@step(cache=False)
def double(a: int) -> int:
    if a < 0:
        raise ValueError("a must not be negative")
    return 2 * a

@pipeline
def tiny(a: int = 1):
    double(a=a)
"""
PROJECT = """
project: cli
pipelines:
  tiny:
    entrypoint: pipelines/tiny.py:tiny
    triggers:
      - policy: {max_concurrent: 2}
"""


def mloop(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_trigger_then_controller_once_runs_and_links(project_dir: Path) -> None:
    (project_dir / "pipelines").mkdir()
    (project_dir / "pipelines" / "tiny.py").write_text(PIPELINE)
    (project_dir / "mloop.yaml").write_text(PROJECT)
    queued = mloop(project_dir, "trigger", "tiny", "--reason", "new labels", "-p", "a=4", "--json")
    assert queued.returncode == 0, queued.stderr
    event = json.loads(queued.stdout)
    assert event["state"] == "pending" and event["payload"]["params"] == {"a": 4}

    once = mloop(project_dir, "controller", "--once", "--json")
    assert once.returncode == 0, once.stderr
    started = json.loads(once.stdout)["started"]
    assert [s["event"] for s in started] == [event["id"]]
    assert started[0]["state"] == "succeeded" and started[0]["run_id"]

    runs = json.loads(mloop(project_dir, "runs", "list", "--json").stdout)
    assert [(r["id"], r["trigger"]) for r in runs] == [
        (started[0]["run_id"], f"on_demand:{event['id']}")
    ]

    failed = mloop(project_dir, "trigger", "tiny", "-r", "bad input", "-p", "a=-1", "--now")
    assert failed.returncode == 1 and "failed" in failed.stdout
    listed = json.loads(mloop(project_dir, "trigger", "--list", "--json").stdout)
    assert [e["state"] for e in listed] == ["failed", "succeeded"]
    assert "must not be negative" in listed[0]["error"]


def test_trigger_explains_mistakes(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text(PROJECT)
    unknown = mloop(project_dir, "trigger", "nightly", "--reason", "x")
    assert unknown.returncode != 0 and "no pipeline 'nightly'" in unknown.stderr + unknown.stdout
    no_reason = mloop(project_dir, "trigger", "tiny")
    assert no_reason.returncode != 0 and "--reason" in no_reason.stderr + no_reason.stdout
    short = mloop(project_dir, "controller", "--once", "--launcher-timeout", "1.5")
    assert short.returncode != 0
    assert "shorter than the launcher timeout (1.5 s)" in short.stderr + short.stdout
