"""``mloop quickstart`` from a fresh folder, as a new user runs it: it copies the demo project,
trains on the real Lending Club data, records the metrics, and a second run is all cache hits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def mloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["COLUMNS"] = "120"
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_quickstart_trains_records_and_then_hits_the_cache(tmp_path: Path) -> None:
    first = mloop("quickstart", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    project = tmp_path / "mloop-quickstart"
    assert (project / "mloop.yaml").is_file()
    assert (project / "data" / "lending_club.parquet").is_file()
    assert (project / ".mloop" / "mloop.db").is_file()
    assert "roc_auc" in first.stdout and "mloop runs show" in first.stdout

    listed = mloop("runs", "list", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["state"] == "succeeded" and run["pipeline"] == "training"
    assert run["trigger"] == "quickstart"
    metrics = run["metrics"]
    assert 0.6 < metrics["roc_auc"] <= 1.0
    assert 0.0 < metrics["pr_auc"] <= 1.0 and metrics["log_loss"] > 0.0
    assert metrics["test_rows"] == pytest.approx(9857 * 0.25, abs=1)

    shown = json.loads(mloop("runs", "show", run["id"], "--json", cwd=project).stdout)
    steps = {e["step"]: e["state"] for e in shown["executions"]}
    assert steps == dict.fromkeys(["ingest", "split", "train", "evaluate"], "succeeded")

    second = mloop("quickstart", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "4 of 4 steps cached" in second.stdout
    runs = json.loads(mloop("runs", "list", "--json", cwd=project).stdout)
    assert len(runs) == 2 and runs[0]["id"] != run["id"]
    again = json.loads(mloop("runs", "show", runs[0]["id"], "--json", cwd=project).stdout)
    assert {e["state"] for e in again["executions"]} == {"cached"}
    assert "roc_auc" in second.stdout  # the summary shows the metrics of the run that made them

    lineage = json.loads(mloop("lineage", run["id"], "--upstream", "--json", cwd=project).stdout)
    assert [c["kind"] for c in lineage["children"]] == ["execution"] * 4


def test_quickstart_fresh_forgets_earlier_runs(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    assert mloop("quickstart", "--project-dir", str(target), cwd=tmp_path).returncode == 0
    fresh = mloop("quickstart", "--project-dir", str(target), "--fresh", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "steps cached" not in fresh.stdout  # a new database: nothing to reuse
    runs = json.loads(mloop("runs", "list", "--json", cwd=target).stdout)
    assert len(runs) == 1


def test_quickstart_refuses_a_folder_that_is_not_the_demo(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    done = mloop("quickstart", "--project-dir", str(target), cwd=tmp_path)
    assert done.returncode == 2
    assert "not the demo project" in done.stderr
    assert (target / "notes.txt").read_text() == "keep me"
