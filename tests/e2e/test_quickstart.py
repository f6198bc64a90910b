"""``mloop quickstart`` from a fresh folder, as a new user runs it: it copies the demo project,
trains on the real Lending Club data, validates the model (slices, baseline, a served copy),
registers and promotes it; later runs show "unchanged", a refusal with reasons, a promotion."""

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


STEPS = ["ingest", "split", "train", "evaluate", "infra_validate", "push"]


def test_quickstart_trains_validates_promotes_then_decides_again(tmp_path: Path) -> None:
    first = mloop("quickstart", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    project = tmp_path / "mloop-quickstart"
    assert (project / "mloop.yaml").is_file()
    assert (project / "data" / "lending_club.parquet").is_file()
    assert (project / ".mloop" / "mloop.db").is_file()
    assert "roc_auc" in first.stdout and "Decision: promoted (v1)" in first.stdout
    # the next commands work from where quickstart ran (the README's case: not the demo folder)
    assert "mloop --project-dir mloop-quickstart models show lending_club" in first.stdout
    assert "mloop --project-dir mloop-quickstart ui" in first.stdout  # the web UI (issue 12)
    shown_here = mloop(
        "--project-dir", "mloop-quickstart", "models", "show", "lending_club", cwd=tmp_path
    )
    assert shown_here.returncode == 0, shown_here.stderr
    assert not (tmp_path / ".mloop").exists()
    bare = mloop("models", "show", "lending_club", cwd=tmp_path)  # the README's old advice
    assert bare.returncode == 2 and "no mloop store at" in bare.stderr
    assert not (tmp_path / ".mloop").exists()

    listed = mloop("runs", "list", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["state"] == "succeeded" and run["pipeline"] == "training"
    assert run["trigger"] == "quickstart"
    metrics = run["metrics"]
    assert 0.6 < metrics["roc_auc"] <= 1.0
    assert 0.0 < metrics["pr_auc"] <= 1.0 and metrics["log_loss"] > 0.0
    assert metrics["blessed"] == 1.0 and metrics["infra_blessed"] == 1.0
    assert 0 < metrics["infra_rss_mb"] < 2048

    shown = json.loads(mloop("runs", "show", run["id"], "--json", cwd=project).stdout)
    steps = {e["step"]: e["state"] for e in shown["executions"]}
    assert steps == dict.fromkeys(STEPS, "succeeded")
    assert shown["tags"]["mloop.push"] == "promoted"

    model = json.loads(mloop("models", "show", "lending_club", "--json", cwd=project).stdout)
    (v1,) = model["versions"]
    assert v1["run_id"] == run["id"] and v1["aliases"] == ["production"]
    assert v1["data_artifact_id"] and v1["artifact_id"]  # linked to its data and package
    assert model["alias_history"][0]["to_version"] == 1

    # Same data, same parameters: the model comes from the cache, validation runs again, and
    # production already serves this package.
    second = mloop("quickstart", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "3 of 6 steps cached" in second.stdout
    assert "Decision: unchanged" in second.stdout and "already serves" in second.stdout

    # Changed data (a seeded half of the loans): the candidate is worse than production on the
    # same new test set, overall and in some slices, and is refused with the reasons.
    refused = mloop("quickstart", "-p", "sample=0.5", cwd=tmp_path)
    assert refused.returncode == 0, refused.stdout + refused.stderr
    assert "Decision: refused" in refused.stdout and "slice" in refused.stdout
    runs = json.loads(mloop("runs", "list", "--json", cwd=project).stdout)
    latest = json.loads(mloop("runs", "show", runs[0]["id"], "--json", cwd=project).stdout)
    assert latest["tags"]["mloop.push"] == "refused"
    assert "worse than the baseline" in latest["tags"]["mloop.push.reason"]

    # A better-regularised challenger is blessed against production on the same test set.
    promoted = mloop("quickstart", "-p", "C=0.03", cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "Decision: promoted (v2)" in promoted.stdout
    model = json.loads(mloop("models", "show", "lending_club", "--json", cwd=project).stdout)
    assert model["aliases"] == {"production": 2}

    back = mloop("models", "rollback", "lending_club", "production", "-r", "demo", cwd=project)
    assert back.returncode == 0 and "v2 -> v1" in back.stdout

    lineage = json.loads(mloop("lineage", run["id"], "--upstream", "--json", cwd=project).stdout)
    assert [c["kind"] for c in lineage["children"]] == ["execution"] * 6


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


def test_quickstart_flights_example_runs_the_feature_store_demo(tmp_path: Path) -> None:
    result = mloop("quickstart", "--example", "flights", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "point-in-time join" in result.stdout
    assert "(weather present)" in result.stdout
    listing = mloop(
        "--project-dir", str(tmp_path / "mloop-flights"), "features", "list", "--json", cwd=tmp_path
    )
    assert listing.returncode == 0, listing.stderr
    names = {d["name"] for d in json.loads(listing.stdout)}
    assert {"weather", "delay_model_v1"} <= names


def test_quickstart_unknown_example_is_one_line_error(tmp_path: Path) -> None:
    result = mloop("quickstart", "--example", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "no example 'nope'" in result.stderr
