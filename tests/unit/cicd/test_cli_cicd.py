"""The CI/CD commands through the CLI: build, list, show, diff, deploy, approve, promote,
rollback, deployments list; --json keys, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

DEPLOYMENT_KEYS = {
    "id",
    "environment",
    "pipeline",
    "state",
    "kind",
    "approval",
    "package_id",
    "package_digest",
    "package_version",
    "source_environment",
    "base_id",
    "requested_by",
    "requested_at",
    "reason",
    "decided_by",
    "decided_at",
    "decision_reason",
    "activated_at",
    "ended_at",
    "gates",  # each CD gate's result (ADR 0024)
}


def cli(*args: str, ok: bool = True, user: str = "alice") -> str:
    result = runner.invoke(app, list(args), env={"MLOOP_USER": user, "COLUMNS": "200"})
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def project(cicd_project: Path) -> Path:
    return cicd_project


def test_build_list_show_and_diff(project: Path) -> None:
    built = json.loads(cli("pipeline", "build", "scoring", "--env", "test", "--json"))
    assert built["new"] is True and built["version"] == 1
    again = json.loads(cli("pipeline", "build", "scoring", "--env", "test", "--json"))
    assert (again["new"], again["digest"]) == (False, built["digest"])
    assert "unchanged" in cli("pipeline", "build", "scoring", "--env", "test")
    cli("pipeline", "build", "scoring", "--env", "test", "-p", "n=4")
    listed = json.loads(cli("pipeline", "list", "--env", "test", "--json"))
    assert [p["version"] for p in listed] == [2, 1]
    shown = json.loads(cli("pipeline", "show", "scoring:1", "--env", "test", "--json"))
    assert shown["manifest"]["digest"] == built["digest"]
    assert shown["files"] == ["helpers/__init__.py", "helpers/numbers.py", "pipelines/scoring.py"]
    diff = json.loads(cli("pipeline", "diff", "scoring:1", "scoring:2", "--env", "test", "--json"))
    assert diff["params"] == {"n": {"a": 3, "b": 4}}
    assert "param n: 3 -> 4" in cli("pipeline", "diff", "scoring:1", "scoring:2", "--env", "test")


def test_deploy_promote_approve_rollback_and_the_listing(project: Path) -> None:
    cli("pipeline", "build", "scoring", "--env", "test")
    first = json.loads(cli("deploy", "scoring", "--env", "test", "-r", "merged #1", "--json"))
    assert set(first) == DEPLOYMENT_KEYS and first["state"] == "active"
    staged = json.loads(
        cli("promote", "scoring", "--from", "test", "--to", "staging", "-r", "stage", "--json")
    )
    assert staged["state"] == "pending_approval" and staged["source_environment"] == "test"
    out = cli("approve", staged["id"][:8], "-r", "reviewed", user="bob")
    assert "active in staging" in out
    refused = cli("promote", "scoring", "--from", "staging", "--to", "prod", "-r", "x", ok=False)
    assert "needs 2 succeeded runs" in refused
    # a second package in test, then a rollback there
    (project / "helpers" / "numbers.py").write_text("def scale(value, factor):\n    return 0\n")
    cli("pipeline", "build", "scoring", "--env", "test")
    second = json.loads(cli("deploy", "scoring", "--env", "test", "-r", "merged #2", "--json"))
    assert second["package_version"] == 2 and second["base_id"] == first["id"]
    back = json.loads(cli("rollback", "scoring", "--env", "test", "-r", "bad #2", "--json"))
    assert (back["kind"], back["package_digest"]) == ("rollback", first["package_digest"])
    rows = json.loads(cli("deployments", "list", "--json"))
    assert {r["environment"] for r in rows} == {"test", "staging"}
    states = {r["id"]: r["state"] for r in rows}
    assert states[second["id"]] == "rolled_back" and states[back["id"]] == "active"
    only = json.loads(cli("deployments", "list", "--env", "staging", "--json"))
    assert [(r["decided_by"], r["decision_reason"]) for r in only] == [("bob", "reviewed")]
    table = cli("deployments", "list", "--env", "test")
    assert "bad #2" in table and "merged #1" in table


def test_errors_are_one_line_with_exit_code_2(project: Path) -> None:
    result = runner.invoke(app, ["deploy", "scoring", "--env", "test", "-r", "x"])
    assert result.exit_code == 2 and "no package of scoring" in result.output
    result = runner.invoke(app, ["approve", "nosuchdeployment", "-r", "x"])
    assert result.exit_code == 2 and "no deployment" in result.output
    result = runner.invoke(app, ["deploy", "scoring", "-r", "x"])
    assert result.exit_code == 2 and "--env" in result.output


def test_quickstart_names_the_cicd_example(project_dir: Path) -> None:
    result = runner.invoke(app, ["quickstart", "--example", "nope"])
    assert result.exit_code == 2 and "cicd" in result.output
    assert "cicd" in runner.invoke(app, ["quickstart", "--help"]).output


def test_a_non_empty_folder_is_not_used_for_the_demo(project_dir: Path) -> None:
    (project_dir / "keep.txt").write_text("mine")
    result = runner.invoke(
        app, ["quickstart", "--example", "cicd", "--project-dir", str(project_dir)]
    )
    assert result.exit_code == 2 and "not empty" in result.output
    assert (project_dir / "keep.txt").read_text() == "mine"
