"""Commands that only read never create a metadata store: in a folder with nothing run, they
say where they looked (and how to fix it) or list nothing, and leave the folder untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

SHOW_COMMANDS = [
    ["models", "show", "lending_club"],
    ["models", "compare", "lending_club", "1", "2"],
    ["models", "alias", "lending_club", "production", "1", "-r", "why"],
    ["runs", "show", "0123456789abcdef"],
    ["runs", "compare", "0123456789abcdef", "fedcba9876543210"],
    ["artifacts", "list", "0123456789abcdef"],
    ["artifacts", "get", "0123456789abcdef", "-o", "out"],
    ["features", "describe", "driver_stats"],
]
LIST_COMMANDS = [
    ["runs", "list"],
    ["models", "list"],
    ["monitor", "reports"],
    ["monitor", "alerts"],
    ["trigger", "--list"],
    ["features", "list"],
]


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("args", SHOW_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_show_commands_without_a_store_exit_2_and_create_nothing(
    project_dir: Path, args: list[str]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, result.stderr
    assert "no mloop store at" in lines[0] and "mloop.db" in lines[0]
    assert "--project-dir" in lines[0]
    assert tree(project_dir) == []


@pytest.mark.parametrize("args", LIST_COMMANDS, ids=lambda a: " ".join(a))
def test_list_commands_without_a_store_list_nothing_and_create_nothing(
    project_dir: Path, args: list[str]
) -> None:
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == []
    human = runner.invoke(app, args)
    assert human.exit_code == 0, human.output
    assert tree(project_dir) == []


def test_db_current_without_a_store_creates_nothing(project_dir: Path) -> None:
    result = runner.invoke(app, ["db", "current", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["current"] is None
    assert tree(project_dir) == []


def test_the_message_names_the_folder_it_looked_in(project_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other project"
    elsewhere.mkdir()
    result = runner.invoke(app, ["--project-dir", str(elsewhere), "models", "show", "m"])
    assert result.exit_code == 2
    assert str(elsewhere / ".mloop" / "mloop.db") in result.stderr.replace("\n", "")
    assert not (elsewhere / ".mloop").exists()
