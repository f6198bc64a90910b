"""``runs list``, ``runs show``, ``lineage`` and ``db current`` against a seeded metadata store:
the human output names what is there and ``--json`` parses with the documented keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.cli.main import app
from mloop.config import load_settings
from mloop.metadata import connect
from mloop.metadata.entities import Artifact, ExecutionState, Metric, RunState

runner = CliRunner()

RUN_KEYS = {
    "id",
    "experiment",
    "name",
    "pipeline",
    "pipeline_version",
    "state",
    "trigger",
    "environment",
    "parent_run_id",
    "started_at",
    "ended_at",
    "duration_s",
    "error",
    "metrics",
}
EXECUTION_KEYS = {
    "id",
    "step",
    "state",
    "started_at",
    "ended_at",
    "duration_s",
    "attempts",
    "cache_key",
    "cached_from",
    "error",
}


@dataclass
class Seeded:
    good: str  # a succeeded run of pipeline "training": ingest -> train, metric auc
    bad: str  # a failed run of experiment "adhoc"
    artifact: str  # the dataset ingest produced and train read


@pytest.fixture
def seeded(project_dir: Path) -> Seeded:
    store = connect(load_settings().metadata_url)
    good = store.create_run(
        "lending", pipeline_name="training", pipeline_params={"n": 3}, trigger="cli"
    )
    ingest = store.create_execution(good.id, "ingest", cache_key="k1")
    data = Artifact(
        id=new_id(),
        type="Dataset",
        uri="runs/x/ingest/output",
        digest="0" * 64,
        size=10,
        created_at=utc_now(),
    )
    store.finish_execution(
        ingest.id, ExecutionState.SUCCEEDED, new_artifacts=[data], outputs={"output": data.id}
    )
    train = store.create_execution(good.id, "train", inputs={"data": data.id})
    store.finish_execution(train.id, ExecutionState.SUCCEEDED)
    store.log_metrics(good.id, [Metric("auc", 0.71, step=0), Metric("auc", 0.75, step=1)])
    store.finish_run(good.id, RunState.SUCCEEDED)
    bad = store.create_run("adhoc")
    store.finish_run(bad.id, RunState.FAILED, error="boom")
    return Seeded(good.id, bad.id, data.id)


def invoke_json(args: list[str]) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_runs_list_json_has_stable_keys_and_newest_first(seeded: Seeded) -> None:
    rows = invoke_json(["runs", "list"])
    assert isinstance(rows, list)
    assert [r["id"] for r in rows] == [seeded.bad, seeded.good]
    for row in rows:
        assert set(row) == RUN_KEYS | {"params", "tags"}  # a listing row: params and tags too
    good = rows[1]
    assert good["state"] == "succeeded" and good["pipeline"] == "training"
    assert good["metrics"] == {"auc": 0.75}  # the latest step's value
    assert good["duration_s"] >= 0


def test_runs_list_filters(seeded: Seeded) -> None:
    assert [r["id"] for r in invoke_json(["runs", "list", "--state", "failed"])] == [seeded.bad]
    assert [r["id"] for r in invoke_json(["runs", "list", "--pipeline", "training"])] == [
        seeded.good
    ]
    assert [r["id"] for r in invoke_json(["runs", "list", "--experiment", "adhoc"])] == [seeded.bad]
    assert len(invoke_json(["runs", "list", "--limit", "1"])) == 1


def test_runs_list_table_names_the_runs(seeded: Seeded) -> None:
    result = runner.invoke(app, ["runs", "list"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert seeded.good in result.stdout and seeded.bad in result.stdout
    assert "auc=0.75" in result.stdout


def test_runs_list_with_no_database_is_empty_and_creates_nothing(project_dir: Path) -> None:
    assert invoke_json(["runs", "list"]) == []
    result = runner.invoke(app, ["runs", "list"])
    assert "No runs yet" in result.stdout
    assert not (project_dir / ".mloop").exists()


def test_runs_show_json_has_executions_params_and_metrics(seeded: Seeded) -> None:
    differ = next(i for i, (a, b) in enumerate(zip(seeded.good, seeded.bad, strict=True)) if a != b)
    data = invoke_json(["runs", "show", seeded.good[: max(6, differ + 1)]])  # a unique prefix
    assert isinstance(data, dict)
    assert RUN_KEYS | {"params", "tags", "metric_history", "executions", "reports"} == set(data)
    assert data["id"] == seeded.good
    assert data["params"] == {"n": 3}
    assert [e["step"] for e in data["executions"]] == ["ingest", "train"]
    for execution in data["executions"]:
        assert set(execution) == EXECUTION_KEYS
        assert execution["state"] == "succeeded"
    assert [(m["key"], m["value"], m["step"]) for m in data["metric_history"]] == [
        ("auc", 0.71, 0),
        ("auc", 0.75, 1),
    ]


def test_runs_show_prints_steps_and_error(seeded: Seeded) -> None:
    result = runner.invoke(app, ["runs", "show", seeded.good], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for text in ("ingest", "train", "succeeded", "auc", "0.75", "n"):
        assert text in result.stdout
    result = runner.invoke(app, ["runs", "show", seeded.bad], env={"COLUMNS": "160"})
    assert "failed" in result.stdout and "boom" in result.stdout


def test_lineage_json_is_a_tree_from_the_run(seeded: Seeded) -> None:
    tree = invoke_json(["lineage", seeded.good])
    assert isinstance(tree, dict)
    assert (tree["kind"], tree["id"]) == ("run", seeded.good)
    steps = {c["label"].split()[-1]: c for c in tree["children"]}
    assert all(c["kind"] == "execution" for c in tree["children"])
    assert len(tree["children"]) == 2

    def ids(node: dict[str, object]) -> set[str]:
        found = {str(node["id"])}
        for child in node["children"]:  # type: ignore[attr-defined]
            found |= ids(child)
        return found

    assert seeded.artifact in ids(tree)
    assert steps  # every execution has a label


def test_lineage_of_an_artifact_upstream_reaches_its_producer(seeded: Seeded) -> None:
    tree = invoke_json(["lineage", seeded.artifact, "--upstream"])
    assert tree["kind"] == "artifact" and tree["id"] == seeded.artifact
    assert any(c["kind"] == "execution" for c in tree["children"])


def test_lineage_tree_is_printed(seeded: Seeded) -> None:
    result = runner.invoke(app, ["lineage", seeded.good], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert seeded.good in result.stdout and "└──" in result.stdout


def test_lineage_refuses_both_directions_and_unknown_ids(seeded: Seeded) -> None:
    result = runner.invoke(app, ["lineage", seeded.good, "--upstream", "--downstream"])
    assert result.exit_code == 2 and "exclude each other" in result.stderr
    result = runner.invoke(app, ["lineage", "nothing-like-this"])
    assert result.exit_code == 2
    assert len([x for x in result.stderr.splitlines() if x.strip()]) == 1


def test_db_current_and_upgrade(project_dir: Path) -> None:
    before = invoke_json(["db", "current"])
    assert isinstance(before, dict)
    assert before["current"] is None and before["up_to_date"] is False
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    after = invoke_json(["db", "current"])
    assert after["current"] == after["head"] and after["up_to_date"] is True
    assert (project_dir / ".mloop" / "mloop.db").is_file()
