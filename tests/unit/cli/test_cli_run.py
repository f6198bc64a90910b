"""``mloop run``: typed ``-p`` params, progress, one-line failures, resume, names in mloop.yaml."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

PIPELINE = """
from pathlib import Path

import mloop
from mloop import pipeline, step


@step
def make(n: int) -> dict:
    return {"values": list(range(n))}


@step
def total(data: dict, scale: float = 1.0) -> dict:
    if Path("FAIL").exists():
        raise RuntimeError("asked to fail")
    result = sum(data["values"]) * scale
    mloop.log_metrics({"total": result})
    return {"total": result}


@pipeline(experiment="numbers")
def numbers(n: int = 3, scale: float = 1.0, label: str = "x"):
    total(make(n), scale=scale)
"""


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    return project_dir


def runs_json(*args: str) -> object:
    result = runner.invoke(app, ["runs", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_passes_typed_params_and_shows_progress(project: Path) -> None:
    result = runner.invoke(
        app, ["run", "pipe.py:numbers", "-p", "n=4", "-p", "scale=0.5", "-p", "label=true"]
    )
    assert result.exit_code == 0, result.output
    assert "make" in result.stdout and "total" in result.stdout
    assert "succeeded" in result.stdout
    (run,) = runs_json("list")
    assert run["state"] == "succeeded" and run["metrics"] == {"total": 3.0}
    shown = runs_json("show", run["id"])
    # label: str, so "true" stays the text it is (YAML alone would have made it a bool)
    assert shown["params"]["n"] == 4 and shown["params"]["label"] == "true"
    assert shown["params"]["scale"] == 0.5
    assert [e["state"] for e in shown["executions"]] == ["succeeded", "succeeded"]


def test_second_run_is_cached_unless_no_cache(project: Path) -> None:
    assert runner.invoke(app, ["run", "pipe.py:numbers"]).exit_code == 0
    again = runner.invoke(app, ["run", "pipe.py:numbers"])
    assert again.exit_code == 0 and "cached" in again.stdout
    forced = runner.invoke(app, ["run", "pipe.py:numbers", "--no-cache"])
    assert forced.exit_code == 0
    newest, cached, _first = runs_json("list")
    states = [e["state"] for e in runs_json("show", cached["id"])["executions"]]
    assert states == ["cached", "cached"]
    states = [e["state"] for e in runs_json("show", newest["id"])["executions"]]
    assert states == ["succeeded", "succeeded"]


def test_failed_step_is_one_red_line_then_resume_completes_the_run(project: Path) -> None:
    (project / "FAIL").touch()
    failed = runner.invoke(app, ["run", "pipe.py:numbers", "-p", "n=5"])
    assert failed.exit_code == 2
    lines = [x for x in failed.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, failed.stderr
    assert "'total'" in lines[0] and "asked to fail" in lines[0]
    assert "Traceback" not in failed.output
    (run,) = runs_json("list", "--state", "failed")
    assert lines[0].endswith(f"(traceback: mloop runs show {run['id']})")

    (project / "FAIL").unlink()
    resumed = runner.invoke(app, ["run", "pipe.py:numbers", "-p", "n=5", "--resume", run["id"]])
    assert resumed.exit_code == 0, resumed.output
    assert "before resume" in resumed.stdout  # make was not run again
    shown = runs_json("show", run["id"])
    assert shown["state"] == "succeeded"
    assert [(e["step"], e["state"]) for e in shown["executions"]] == [
        ("make", "succeeded"),
        ("total", "failed"),
        ("total", "succeeded"),
    ]


def test_pipeline_named_in_the_project_file_uses_its_params(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "mloop.yaml").write_text(
        "pipelines:\n  numbers:\n    entrypoint: pipe.py:numbers\n    params: {n: 10}\n"
    )
    sub = project / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)  # the project is found upwards; its entrypoint is relative to it
    result = runner.invoke(app, ["run", "numbers", "-p", "scale=2"])
    assert result.exit_code == 0, result.output
    (run,) = runs_json("list")
    assert run["metrics"] == {"total": 90.0}
    assert not (sub / ".mloop").exists() and (project / ".mloop" / "mloop.db").is_file()


def test_unknown_pipeline_and_bad_param_are_one_line_errors(project: Path) -> None:
    for args, expected in (
        (["run", "missing.py:numbers"], "not found"),
        (["run", "pipe.py:nothing"], "no attribute"),
        (["run", "pipe.py:numbers", "-p", "n"], "key=value"),
        (["run", "pipe.py:numbers", "-p", "bogus=1"], "bogus"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)


TYPED = """
from typing import Literal, Optional

from mloop import pipeline, step


@step
def fit(C: float, model_type: str, version: str, ks: list) -> dict:
    if model_type not in ("lr", "rf"):
        raise ValueError("unknown model type")  # what a run used to die of, deep inside
    return {"C": C, "version": version, "ks": ks}


@pipeline
def typed(
    C: float = 1.0,
    model_type: Literal["lr", "rf"] = "lr",
    version: str = "1",
    seed: Optional[int] = None,
    ks: list[int] = [1],
):
    fit(C, model_type, version, ks)
"""


def test_params_are_checked_against_type_hints_before_the_run(project: Path) -> None:
    (project / "typed.py").write_text(textwrap.dedent(TYPED))
    for param, expected in (
        ("C=abc", "parameter 'C' = 'abc' is not a float"),
        ("model_type=xgb", "parameter 'model_type' = 'xgb' is not one of 'lr', 'rf'"),
        ("seed=1.5", "parameter 'seed' = 1.5 is not an int or None"),
        ("ks=[1, x]", "item 1 is 'x'"),
        ("nope=1", "its parameters are ['C', 'model_type', 'version', 'seed', 'ks']"),
    ):
        result = runner.invoke(app, ["run", "typed.py:typed", "-p", param])
        assert result.exit_code == 2, (param, result.output)
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and expected in lines[0], (param, result.stderr)
    assert runs_json("list") == []  # nothing started

    ok = runner.invoke(
        app, ["run", "typed.py:typed", "-p", "C=2", "-p", "version=1.10", "-p", "seed=null"]
    )
    assert ok.exit_code == 0, ok.output
    (run,) = runs_json("list")
    shown = runs_json("show", run["id"])
    assert shown["params"]["C"] == 2.0 and shown["params"]["version"] == "1.10"  # not 1.1


INTERRUPTED = """
from mloop import pipeline, step


@step
def first() -> int:
    return 1


@step
def interrupted(x: int) -> int:
    raise KeyboardInterrupt


@pipeline
def stops():
    interrupted(first())
"""


def test_ctrl_c_hint_names_the_real_run_id(project: Path) -> None:
    (project / "stops.py").write_text(textwrap.dedent(INTERRUPTED))
    result = runner.invoke(app, ["run", "stops.py:stops"])
    assert result.exit_code == 130, result.output
    (run,) = runs_json("list")
    assert f"mloop run stops.py:stops --resume {run['id']}" in result.stderr
    assert "RUN_ID" not in result.stderr


READS = """
from pathlib import Path

from mloop import pipeline, step


@step
def count(path: str) -> int:
    return len(Path(path).read_text().splitlines())


@pipeline
def reads(path: str = "data/rows.csv"):
    count(path)
"""


def test_lineage_of_a_file_lists_the_runs_that_read_it(project: Path) -> None:
    (project / "reads.py").write_text(textwrap.dedent(READS))
    (project / "data").mkdir()
    rows = project / "data" / "rows.csv"
    rows.write_text("x\n1\n")
    assert runner.invoke(app, ["run", "reads.py:reads"]).exit_code == 0
    rows.write_text("x\n1\n2\n")
    assert runner.invoke(app, ["run", "reads.py:reads"]).exit_code == 0
    ids = [r["id"] for r in runs_json("list")]  # newest first

    result = runner.invoke(app, ["lineage", "data/rows.csv", "--json"])
    assert result.exit_code == 0, result.output
    tree = json.loads(result.stdout)
    assert tree["kind"] == "file" and tree["id"] == rows.as_uri()
    versions = tree["children"]
    assert [[n["id"] for n in v["children"]] for v in versions] == [[ids[0]], [ids[1]]]
    assert all(n["state"] == "succeeded" for v in versions for n in v["children"])

    shown = runner.invoke(app, ["lineage", str(rows)])
    assert shown.exit_code == 0 and ids[0] in shown.stdout and "step count" in shown.stdout
    unread = runner.invoke(app, ["lineage", "data/other.csv"])
    assert unread.exit_code == 2 and "no recorded step read" in unread.stderr
