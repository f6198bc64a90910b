"""``runs compare``, params in ``runs list``, report paths in ``runs show``, ``artifacts
list|get``, and output that keeps ids and paths whole when piped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mloop
from mloop.cli.main import app

runner = CliRunner()

PIPELINE = """
import mloop
from mloop import pipeline, step
from mloop.components.model_artifacts import HtmlReport, register_model_materializers

register_model_materializers()


@step
def make(n: int) -> dict:
    return {"values": list(range(n))}


@step
def total(data: dict, scale: float = 1.0) -> dict:
    result = sum(data["values"]) * scale
    mloop.log_metrics({"total": result, "rmse": 1.0 / (1 + result)})
    return {"total": result}


@step
def report(data: dict) -> HtmlReport:
    return HtmlReport(f"<html><body>{len(data['values'])} values</body></html>", title="r")


@pipeline(experiment="numbers")
def numbers(n: int = 3, scale: float = 1.0, label: str = "x"):
    data = make(n)
    total(data, scale=scale)
    report(data)
"""


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def run_pipeline(*params: str) -> str:
    invoke("run", "pipe.py:numbers", *[x for p in params for x in ("-p", p)])
    return json.loads(invoke("runs", "list", "--limit", "1", "--json"))[0]["id"]


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    return project_dir


def test_runs_compare_puts_params_and_metrics_side_by_side(project: Path) -> None:
    a = run_pipeline("n=3")
    b = run_pipeline("n=5", "scale=2.0")
    data = json.loads(invoke("runs", "compare", a, b, "--json"))
    assert [r["id"] for r in data["runs"]] == [a, b]
    params = {row["key"]: row for row in data["params"]}
    assert params["n"]["values"] == [3, 5] and params["n"]["differs"]
    assert params["label"]["values"] == ["x", "x"] and not params["label"]["differs"]
    metrics = {row["key"]: row for row in data["metrics"]}
    assert metrics["total"]["values"] == [3.0, 20.0]
    assert metrics["total"]["best"] == 1  # higher is better by default
    assert metrics["rmse"]["best"] == 1  # lower is better for rmse: 1/21 < 1/4
    human = invoke("runs", "compare", a, b, "--diff-only")
    assert a in human and b in human and "≠" in human
    assert "label" not in human  # the same in both runs: left out with --diff-only
    one = runner.invoke(app, ["runs", "compare", a])
    assert one.exit_code == 2 and "at least two" in one.stderr


def test_runs_list_shows_params(project: Path) -> None:
    run_pipeline("n=4", "label=hello")
    rows = json.loads(invoke("runs", "list", "--json"))
    assert rows[0]["params"] == {"n": 4, "scale": 1.0, "label": "hello"}
    table = invoke("runs", "list")
    assert "label=hello n=4 scale=1" in table


def test_runs_show_prints_the_html_report_path(project: Path) -> None:
    run = run_pipeline()
    shown = json.loads(invoke("runs", "show", run, "--json"))
    (report,) = shown["reports"]
    path = Path(report["path"])
    assert path.is_file() and path.name == "report.html"
    assert "3 values" in path.read_text()
    assert report["step"] == "report"
    assert str(path) in invoke("runs", "show", run).replace("\n", "")


def test_artifacts_list_and_get_by_id_and_by_step_output(project: Path) -> None:
    run = run_pipeline()
    rows = json.loads(invoke("artifacts", "list", run, "--json"))
    kinds = {(r["step"], r["direction"], r["name"]) for r in rows}
    assert ("make", "output", "output") in kinds and ("total", "input", "data") in kinds
    made = next(r for r in rows if r["step"] == "make" and r["direction"] == "output")
    assert Path(made["path"]).is_dir() and made["size"] > 0

    invoke("artifacts", "get", made["id"], "-o", "copy")
    assert sorted(p.name for p in (project / "copy").iterdir()) == sorted(
        p.name for p in Path(made["path"]).iterdir() if not p.name.startswith(".mloop")
    )
    invoke("artifacts", "get", run, "report/output", "-o", "out/report.html")
    assert "3 values" in (project / "out" / "report.html").read_text()
    again = runner.invoke(app, ["artifacts", "get", made["id"], "-o", "copy"])
    assert again.exit_code == 2 and "exists" in again.stderr
    missing = runner.invoke(app, ["artifacts", "get", run, "nope/output", "-o", "x"])
    assert missing.exit_code == 2 and "no finished step 'nope'" in missing.stderr


def test_artifacts_get_refuses_content_that_does_not_match_its_digest(project: Path) -> None:
    run = run_pipeline()
    rows = json.loads(invoke("artifacts", "list", run, "--json"))
    made = next(r for r in rows if r["step"] == "make" and r["direction"] == "output")
    for file in Path(made["path"]).iterdir():
        if not file.name.startswith(".mloop"):
            file.write_bytes(file.read_bytes() + b" ")
    result = runner.invoke(app, ["artifacts", "get", made["id"], "-o", "copy"])
    assert result.exit_code == 2, result.output
    assert "corrupt or was modified" in result.stderr and "sha256" in result.stderr
    assert not (project / "copy").exists()


LONG_METRIC = "root_mean_squared_error_of_the_holdout_set_in_dollars_per_loan"


@pytest.fixture
def piped(project: Path):
    """A project in a deep folder (its paths are over 100 characters) and a ``mloop`` runner
    whose stdout and stderr are pipes, as in ``mloop ... | less``."""
    deep = project / ("a-rather-long-folder-name-" * 4) / "project"
    deep.mkdir(parents=True)
    (deep / "pipe.py").write_text(textwrap.dedent(PIPELINE).replace('"rmse"', f'"{LONG_METRIC}"'))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
        "PYTHONPATH": str(Path(mloop.__file__).parents[1]),
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mloop", "--project-dir", str(deep), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=project,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("run", f"{deep}/pipe.py:numbers")
    (run,) = json.loads(cli("runs", "list", "--json"))
    return deep, run["id"], cli


def test_piped_runs_list_and_show_keep_ids_and_names_whole(piped) -> None:
    _, run_id, cli = piped
    listing = cli("runs", "list")
    assert run_id in listing and f"{LONG_METRIC}=" in listing
    assert "…" not in listing
    shown = cli("runs", "show", run_id)
    assert run_id in shown and LONG_METRIC in shown and "…" not in shown


def test_piped_artifact_listing_keeps_long_paths_whole(piped) -> None:
    deep, run_id, cli = piped
    listing = cli("artifacts", "list", run_id)
    rows = json.loads(cli("artifacts", "list", run_id, "--json"))
    assert len(str(deep)) > 100
    assert "…" not in listing
    for row in rows:
        assert row["id"] in listing
        assert row["path"] in listing  # a path of well over 80 characters, on one line
    report = json.loads(cli("runs", "show", run_id, "--json"))["reports"][0]["path"]
    assert report in cli("runs", "show", run_id)
