"""``mloop quickstart``: Ctrl-C names the exact command that resumes the run, and that command
(``quickstart --resume RUN_ID`` with ``--project-dir``) works; the next commands it prints carry
``--project-dir`` so they work from where quickstart was started."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

PROJECT_FILE = """
project: tiny_demo
environments:
  dev: {metadata: sqlite:///.mloop/mloop.db, artifacts: .mloop/artifacts}
pipelines:
  training:
    entrypoint: pipelines/training.py:training
    params: {n: 4}
"""

PIPELINE = """
from pathlib import Path

from mloop import pipeline, step


@step
def make(n: int) -> dict:
    return {"values": list(range(n))}


@step
def total(data: dict) -> dict:
    if Path("INTERRUPT").exists():
        raise KeyboardInterrupt
    return {"total": sum(data["values"])}


@pipeline(experiment="tiny")
def training(n: int = 2):
    total(make(n))
"""


@pytest.fixture
def demo(project_dir: Path) -> Path:
    """A demo-shaped project (mloop.yaml with a ``training`` pipeline) in ``./demo``; the test
    runs from its parent, as a user runs quickstart from a repository root."""
    folder = project_dir / "demo"
    (folder / "pipelines").mkdir(parents=True)
    (folder / "mloop.yaml").write_text(textwrap.dedent(PROJECT_FILE))
    (folder / "pipelines" / "training.py").write_text(textwrap.dedent(PIPELINE))
    return folder


def test_ctrl_c_prints_a_resume_command_that_works(demo: Path, project_dir: Path) -> None:
    (demo / "INTERRUPT").touch()
    interrupted = runner.invoke(app, ["quickstart", "--project-dir", "demo"])
    assert interrupted.exit_code == 130, interrupted.output
    lines = [x for x in interrupted.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, interrupted.stderr
    runs = json.loads(
        runner.invoke(app, ["--project-dir", "demo", "runs", "list", "--json"]).stdout
    )
    (run,) = runs
    expected = f"mloop --project-dir demo quickstart --resume {run['id']}"
    assert lines[0].endswith(expected), lines[0]
    assert "RUN_ID" not in lines[0]

    (demo / "INTERRUPT").unlink()
    args = expected.split()[1:]  # exactly what was printed, from the same directory
    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    shown = json.loads(
        runner.invoke(app, ["--project-dir", "demo", "runs", "show", run["id"], "--json"]).stdout
    )
    assert shown["state"] == "succeeded"
    assert [(e["step"], e["state"]) for e in shown["executions"]] == [
        ("make", "succeeded"),
        ("total", "failed"),
        ("total", "succeeded"),
    ]
    assert not (project_dir / ".mloop").exists()  # nothing written outside the demo folder


def test_quickstart_help_offers_resume(project_dir: Path) -> None:
    result = runner.invoke(app, ["quickstart", "--help"])
    assert result.exit_code == 0
    assert "--resume" in result.stdout


def test_next_commands_carry_project_dir_and_work_from_here(demo: Path, project_dir: Path) -> None:
    result = runner.invoke(app, ["quickstart", "--project-dir", "demo"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(
        runner.invoke(app, ["--project-dir", "demo", "runs", "list", "--json"]).stdout
    )
    assert f"mloop --project-dir demo runs show {run['id']}" in result.stdout
    assert "mloop --project-dir demo models show lending_club" in result.stdout
    assert f"mloop --project-dir demo lineage {run['id']}" in result.stdout
    assert "cd demo" not in result.stdout
    shown = runner.invoke(app, ["--project-dir", "demo", "runs", "show", run["id"]])
    assert shown.exit_code == 0, shown.output
    assert not (project_dir / ".mloop").exists()


@pytest.mark.parametrize(
    ("args", "again"),
    [(["--loop"], "mloop quickstart --loop"), (["--example", "flights"], "--example flights")],
)
def test_ctrl_c_in_the_other_demos_names_no_missing_option(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], again: str
) -> None:
    from mloop.demo import quickstart

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(quickstart, "_run_other_demo", interrupted)
    result = runner.invoke(app, ["quickstart", *args])
    assert result.exit_code == 130
    assert again in result.stderr and "--resume" not in result.stderr
    refused = runner.invoke(app, ["quickstart", *args, "--resume", "abc123"])
    assert refused.exit_code == 2 and "Lending Club" in refused.stderr


def test_resume_and_fresh_exclude_each_other(demo: Path) -> None:
    result = runner.invoke(app, ["quickstart", "--project-dir", "demo", "--fresh", "--resume", "x"])
    assert result.exit_code == 2 and "--fresh would forget" in result.stderr
