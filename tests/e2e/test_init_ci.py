"""``mloop init`` then ``mloop ci`` in the new project, as a user runs them (subprocesses), and
the generated CI workflows validated against the published GitHub Actions and GitLab CI JSON
schemas (as vendored, offline, by the check-jsonschema package)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"


def mloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def vendored_schema(name: str) -> dict:
    pytest.importorskip("check_jsonschema")
    path = resources.files("check_jsonschema.builtin_schemas.vendor") / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("init") / "churn_demo"
    result = mloop("init", str(folder), cwd=folder.parent)
    assert result.returncode == 0, result.stderr
    return folder


def test_init_then_ci_passes_end_to_end(scaffolded: Path) -> None:
    result = mloop("ci", "--junit", "reports/junit.xml", "--json", cwd=scaffolded)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    statuses = {(c["suite"], c["name"]): c["status"] for c in report["checks"]}
    assert [s for (suite, _), s in statuses.items() if suite == "unit-tests"] == ["passed"] * 3
    assert statuses[("pipeline:training", "smoke run")] == "passed"
    assert statuses[("pipeline:training", "overfits a small sample")] == "passed"
    root = ET.parse(scaffolded / "reports" / "junit.xml").getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"


def test_github_workflow_matches_the_published_schema(scaffolded: Path) -> None:
    import jsonschema

    workflow = yaml.safe_load((scaffolded / ".github/workflows/mloop.yml").read_text("utf-8"))
    # YAML 1.1 reads the key `on` as True; GitHub (and check-jsonschema) read it as "on"
    workflow["on"] = workflow.pop(True)
    jsonschema.validate(workflow, vendored_schema("github-workflows"))
    steps = [s.get("run", "") for s in workflow["jobs"]["ci"]["steps"]]
    assert any(s.startswith("mloop ci") for s in steps)
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "ci" and "refs/heads/main" in deploy["if"]
    assert any("mloop deploy" in s.get("run", "") for s in deploy["steps"])


def test_gitlab_ci_matches_the_published_schema(scaffolded: Path) -> None:
    import jsonschema

    pipeline = yaml.safe_load((scaffolded / ".gitlab-ci.yml").read_text("utf-8"))
    jsonschema.validate(pipeline, vendored_schema("gitlab-ci"))
    assert pipeline["mloop-ci"]["script"][0].startswith("mloop ci")
    assert pipeline["mloop-ci"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert pipeline["deploy-staging"]["script"] == [
        "mloop pipeline build training --env staging",
        'mloop deploy training --env staging -r "merge of $CI_COMMIT_SHA"',
    ]
    assert pipeline["deploy-staging"]["rules"] == [
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}
    ]


def test_the_workflows_deploy_commands_work_in_the_project(scaffolded: Path) -> None:
    """What the deploy job runs on merge, run here: the package lands active in staging."""
    pipeline = yaml.safe_load((scaffolded / ".gitlab-ci.yml").read_text("utf-8"))
    for command in pipeline["deploy-staging"]["script"]:
        args = shlex.split(command.replace("$CI_COMMIT_SHA", "abc123"))
        assert args[0] == "mloop"
        done = mloop(*args[1:], cwd=scaffolded)
        assert done.returncode == 0, done.stdout + done.stderr
    listed = mloop("deployments", "list", "--env", "staging", "--json", cwd=scaffolded)
    assert '"active"' in listed.stdout and "merge of abc123" in listed.stdout


def test_a_broken_workflow_is_caught_by_the_schema() -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"on": "push", "jobs": {"ci": {"steps": []}}}, vendored_schema("github-workflows")
        )


def test_ci_fails_when_a_change_breaks_the_served_contract(tmp_path: Path) -> None:
    folder = tmp_path / "served"
    assert mloop("init", str(folder), cwd=tmp_path).returncode == 0
    trained = mloop("run", "training", cwd=folder)  # dev now serves served@dev
    assert trained.returncode == 0, trained.stdout + trained.stderr
    ok = mloop("ci", "--json", "--no-record", cwd=folder)
    assert ok.returncode == 0, ok.stdout
    check = json.loads(ok.stdout)["checks"][-1]
    assert check["status"] == "passed" and "compatible with served@dev" in check["message"]
    features = folder / "pipelines" / "features.py"
    text = features.read_text(encoding="utf-8")
    features.write_text(text.replace('"support_calls", ', ""), encoding="utf-8")
    broken = mloop("ci", "--json", "--no-record", "--markdown", "ci.md", cwd=folder)
    assert broken.returncode == 1, broken.stdout
    check = json.loads(broken.stdout)["checks"][-1]
    assert check["status"] == "failed"
    assert "input 'support_calls' was removed" in check["message"]
    assert "## mloop ci ❌ failed" in (folder / "ci.md").read_text(encoding="utf-8")
