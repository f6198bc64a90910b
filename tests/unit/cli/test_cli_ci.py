"""``mloop ci`` and ``mloop init`` on the command line: exit codes, report files, --json."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

PIPELINE = """
import polars as pl
from mloop import pipeline, step


@step
def make(value: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame({"x": [1.0, value]})


@pipeline
def p(value: float = 1.0):
    make(value)
"""


def project(folder: Path, value: float) -> None:
    (folder / "p.py").write_text(PIPELINE, encoding="utf-8")
    doc = {
        "project": "c",
        "environments": {"dev": {}},
        "pipelines": {"p": {"entrypoint": "p.py:p"}},
        "ci": {"tests": None, "params": {"p": {"value": value}}},
    }
    (folder / "mloop.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")


def test_passing_ci_exits_0_and_writes_reports(project_dir: Path) -> None:
    project(project_dir, 2.0)
    result = runner.invoke(
        app, ["ci", "--junit", "out/junit.xml", "--markdown", "out/ci.md", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["environment"] == "dev" and data["run_id"]
    assert ET.parse(project_dir / "out" / "junit.xml").getroot().tag == "testsuites"
    assert "## mloop ci ✅ passed" in (project_dir / "out" / "ci.md").read_text(encoding="utf-8")


def test_a_failing_check_exits_1_with_a_table(project_dir: Path) -> None:
    project(project_dir, float("inf"))
    result = runner.invoke(app, ["ci", "--no-record"])
    assert result.exit_code == 1, result.output
    assert "no NaN/inf" in result.stdout and "CI failed" in result.stdout
    assert not (project_dir / ".mloop").exists()  # --no-record: nothing written


def test_usage_errors_exit_2(project_dir: Path) -> None:
    project(project_dir, 1.0)
    assert runner.invoke(app, ["ci", "--env", "nowhere"]).exit_code == 2
    assert runner.invoke(app, ["ci", "--bogus"]).exit_code == 2


def test_init_scaffolds_and_refuses_to_overwrite(project_dir: Path) -> None:
    result = runner.invoke(app, ["init", "new-proj"])
    assert result.exit_code == 0, result.output
    folder = project_dir / "new-proj"
    doc = yaml.safe_load((folder / "mloop.yaml").read_text(encoding="utf-8"))
    assert doc["project"] == "new_proj" and set(doc["environments"]) == {"dev", "staging", "prod"}
    for path in ("pipelines/training.py", "tests/test_features.py", ".gitlab-ci.yml"):
        assert (folder / path).is_file(), path
    assert "__PROJECT__" not in (folder / "pipelines" / "training.py").read_text(encoding="utf-8")
    again = runner.invoke(app, ["init", "new-proj"])
    assert again.exit_code == 2 and "--force" in again.stderr
    assert runner.invoke(app, ["init", "x", "--name", "9bad"]).exit_code == 2


def test_init_writes_deploy_policies_when_the_project_file_knows_them(
    project_dir: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from mloop.cicd import scaffold

    monkeypatch.setattr(scaffold, "_policies", lambda: dict(scaffold.POLICIES))
    scaffold.scaffold_project(project_dir / "p")
    doc = yaml.safe_load((project_dir / "p" / "mloop.yaml").read_text(encoding="utf-8"))
    assert doc["environments"]["staging"]["promotion"] == {"approval": "auto"}
    assert doc["environments"]["prod"]["promotion"] == {
        "from": "staging",
        "approval": "manual",
        "min_successful_runs": 2,
    }
    assert doc["environments"]["prod"]["metadata"] == "sqlite:///.mloop/prod/mloop.db"
    monkeypatch.undo()
    scaffold.scaffold_project(project_dir / "q")  # this mloop's config: loads as it is
    from mloop.config import load_settings

    assert load_settings(project_dir / "q", env="prod").environment == "prod"
