"""``mloop models`` against a project's registry, and ``mloop.load_model("models:/...")`` there:
listings parse with the documented keys, alias and rollback move the alias with a reason."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mloop import load_model
from mloop.cli.main import app
from mloop.registry import default_registry

runner = CliRunner()


def _seed(project_dir, make_package) -> None:
    registry = default_registry()
    registry.register_model("lending", make_package(1.0), metrics={"roc_auc": 0.70})
    registry.register_model("lending", make_package(0.1), metrics={"roc_auc": 0.75})
    registry.set_alias("lending", "production", 1, reason="first", actor="alice")


def test_list_show_alias_rollback_compare(project_dir, make_package):
    _seed(project_dir, make_package)
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (model,) = json.loads(listed.output)
    assert model["name"] == "lending" and model["aliases"] == {"production": 1}
    assert model["latest_version"] == 2

    moved = runner.invoke(app, ["models", "alias", "lending", "production", "2", "-r", "better"])
    assert moved.exit_code == 0 and "v1 -> v2" in moved.output
    shown = json.loads(runner.invoke(app, ["models", "show", "lending", "--json"]).output)
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert shown["versions"][0]["aliases"] == ["production"]
    assert [c["reason"] for c in shown["alias_history"]] == ["first", "better"]

    back = runner.invoke(app, ["models", "rollback", "lending", "production", "-r", "oops"])
    assert back.exit_code == 0 and "v2 -> v1" in back.output
    compared = json.loads(
        runner.invoke(app, ["models", "compare", "lending", "production", "2", "--json"]).output
    )
    (auc,) = compared["metrics"]
    assert auc["a"] == 0.70 and auc["b"] == 0.75 and auc["b_is_better"] is True
    human = runner.invoke(app, ["models", "show", "lending"])
    assert "rollback" in human.output and "oops" in human.output


def test_errors_are_one_line_with_exit_2(project_dir, make_package):
    _seed(project_dir, make_package)
    missing = runner.invoke(app, ["models", "show", "nope"])
    assert missing.exit_code == 2 and "mloop models list" in missing.output
    bad = runner.invoke(app, ["models", "alias", "lending", "production", "9", "-r", "x"])
    assert bad.exit_code == 2 and "no such version" in bad.output


def test_load_model_by_uri_in_the_project(project_dir, make_package):
    _seed(project_dir, make_package)
    x = pd.DataFrame({"a": [0.05, 0.95], "b": [0.0, 1.0]})
    production = load_model("models:/lending@production")
    latest = load_model("models:/lending/2")
    assert production.digest != latest.digest
    assert list(np.asarray(production.predict(x))) == [0, 1]
