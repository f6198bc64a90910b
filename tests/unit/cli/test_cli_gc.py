"""``mloop gc``: a dry run by default; with ``--yes`` it deletes the artifacts of runs it does not
keep, marks them collected (lineage says so, ``artifacts get`` refuses them, the cache makes them
again), and never touches what a kept run, a registered model version or an alias needs."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app
from mloop.config import load_settings
from mloop.metadata import connect

runner = CliRunner()

PIPELINE = """
from mloop import pipeline, step


@step
def make(n: int) -> dict:
    return {"values": list(range(n)), "padding": "x" * 5000}


@step
def total(data: dict) -> dict:
    return {"total": sum(data["values"])}


@pipeline(experiment="numbers")
def numbers(n: int = 3):
    total(make(n))
"""


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def artifact_rows(run_id: str) -> list[dict]:
    return json.loads(invoke("artifacts", "list", run_id, "--json"))


@pytest.fixture
def runs(project_dir: Path) -> list[str]:
    """Four runs of one pipeline with different ``n`` (no cache hits), oldest first."""
    (project_dir / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    ids = []
    for n in (1, 2, 3, 4):
        invoke("run", "pipe.py:numbers", "-p", f"n={n}")
        ids.append(json.loads(invoke("runs", "list", "--limit", "1", "--json"))[0]["id"])
    return ids


def test_dry_run_by_default_deletes_nothing(runs: list[str]) -> None:
    plan = json.loads(invoke("gc", "--keep-last", "2", "--json"))
    assert plan["dry_run"] is True and plan["deleted"] == 0
    assert set(plan["runs_collected"]) == set(runs[:2])
    assert set(plan["runs_kept"]) == set(runs[2:])
    old = {r["id"] for run in runs[:2] for r in artifact_rows(run)}
    assert {a["id"] for a in plan["artifacts"]} == old
    assert plan["bytes"] == sum(a["size"] for a in plan["artifacts"]) > 10_000
    for run in runs:
        assert all(Path(r["path"]).is_dir() for r in artifact_rows(run))
    human = invoke("gc", "--keep-last", "2")
    assert "would delete 4 artifacts" in human and "--yes" in human


def test_yes_deletes_marks_and_the_cache_makes_them_again(runs: list[str]) -> None:
    first = artifact_rows(runs[0])
    made = next(r for r in first if r["step"] == "make" and r["direction"] == "output")
    result = json.loads(invoke("gc", "--keep-last", "2", "--yes", "--json"))
    assert result["deleted"] == 4 and not result["dry_run"]
    assert not Path(made["path"]).exists()
    for run in runs[2:]:  # kept runs are whole
        assert all(Path(r["path"]).is_dir() for r in artifact_rows(run))
    after = next(r for r in artifact_rows(runs[0]) if r["id"] == made["id"])
    assert after["collected_at"] and after["path"] is None
    lineage = json.loads(invoke("lineage", made["id"], "--json"))
    assert lineage["state"] == "collected"
    refused = runner.invoke(app, ["artifacts", "get", made["id"], "-o", "copy"])
    assert refused.exit_code == 2 and "deleted by mloop gc" in refused.stderr
    assert json.loads(invoke("gc", "--keep-last", "2", "--json"))["artifacts"] == []

    invoke("run", "pipe.py:numbers", "-p", "n=1")  # the collected run's cache key
    rerun = json.loads(invoke("runs", "list", "--limit", "1", "--json"))[0]
    shown = json.loads(invoke("runs", "show", rerun["id"], "--json"))
    assert shown["state"] == "succeeded"
    assert [e["state"] for e in shown["executions"]] == ["succeeded", "succeeded"]


def test_model_versions_aliases_and_young_runs_are_kept(runs: list[str], project_dir: Path) -> None:
    oldest = artifact_rows(runs[0])
    made = next(r for r in oldest if r["step"] == "make" and r["direction"] == "output")
    store = connect(load_settings().metadata_url)
    registry = store.model_registry()
    version = registry.create_version(
        "numbers_model", uri=made["uri"], digest=made["digest"], artifact_id=made["id"]
    )
    registry.set_alias("numbers_model", "production", version.version, actor="t", reason="test")
    plan = json.loads(invoke("gc", "--keep-last", "1", "--json"))
    planned = {a["id"] for a in plan["artifacts"]}
    assert made["id"] not in planned  # the registered version's artifact
    assert {r["id"] for r in oldest} - {made["id"]} <= planned  # the rest of that run goes
    young = json.loads(invoke("gc", "--keep-last", "1", "--older-than", "1h", "--json"))
    assert young["artifacts"] == [] and young["older_than_s"] == timedelta(hours=1).total_seconds()
    invoke("gc", "--keep-last", "1", "--yes")
    assert Path(made["path"]).is_dir()
    bad = runner.invoke(app, ["gc", "--older-than", "soon"])
    assert bad.exit_code == 2 and "30d" in bad.stderr


def test_gc_without_a_store_creates_nothing(project_dir: Path) -> None:
    result = runner.invoke(app, ["gc"])
    assert result.exit_code == 2 and "no mloop store" in result.stderr
    assert list(project_dir.iterdir()) == []


FILE_PIPELINE = """
from mloop import pipeline, step


@step
def read(path: str) -> dict:
    with open(path) as f:
        return {"text": f.read()}


@pipeline(experiment="files")
def reader(path: str = "data.txt"):
    read(path)
"""


def test_files_a_step_read_are_never_collected(project_dir: Path) -> None:
    """A user's file named by a step is a File input artifact (lineage); gc keeps it whole."""
    (project_dir / "pipe.py").write_text(textwrap.dedent(FILE_PIPELINE))
    data = project_dir / "data.txt"
    for text in ("one", "two", "three"):
        data.write_text(text)
        invoke("run", "pipe.py:reader")
    plan = json.loads(invoke("gc", "--keep-last", "1", "--yes", "--json"))
    assert plan["artifacts"] and all(
        a["type"] not in ("File", "Directory") for a in plan["artifacts"]
    )
    assert data.read_text() == "three"
