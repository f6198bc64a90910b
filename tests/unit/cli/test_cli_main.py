"""The ``mloop`` shell: help lists the command groups, errors are one red line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop import __version__
from mloop.cli.main import COMMANDS, app

runner = CliRunner()
# The foundation's groups; later issues add their own (data, models, features, serve, ...).
FOUNDATION_GROUPS = ["quickstart", "run", "runs", "lineage", "db"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_help_lists_every_command_group(project_dir: Path) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    names = [c.name for c in COMMANDS]
    assert set(FOUNDATION_GROUPS) <= set(names)
    assert len(names) == len(set(names)), "a command group is registered twice"
    for group in names:
        assert f" {group} " in result.stdout, group


def test_no_arguments_shows_help(project_dir: Path) -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "runs" in result.output


def test_each_group_has_its_own_help(project_dir: Path) -> None:
    for args, expected in (
        (["runs", "--help"], "list"),
        (["db", "--help"], "upgrade"),
        (["run", "--help"], "--resume"),
        (["lineage", "--help"], "--upstream"),
        (["quickstart", "--help"], "--fresh"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert expected in result.stdout, (args, result.stdout)


def test_version(project_dir: Path) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mloop {__version__}"


def test_a_user_error_is_one_line_and_exit_2(project_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # a store without that run
    result = runner.invoke(app, ["runs", "show", "no-such-run"])
    assert result.exit_code == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: run 'no-such-run' not found")
    assert "Traceback" not in result.output


def test_a_bad_project_file_is_one_line_naming_file_and_line(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text("project: x\nenvironment:\n  dev: {}\n")
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 2
    (line,) = error_lines(result.stderr)
    assert f"{project_dir / 'mloop.yaml'}:2" in line.replace("\n", "")
    assert "'environment'" in line


def test_an_unknown_environment_is_one_line(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text("environments:\n  dev: {}\n")
    result = runner.invoke(app, ["--env", "prod", "runs", "list"])
    assert result.exit_code == 2
    (line,) = error_lines(result.stderr)
    assert "'prod'" in line and "dev" in line


def test_mloop_env_variable_is_the_global_env_option(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text("environments:\n  dev: {}\n")
    result = runner.invoke(app, ["runs", "list"], env={"MLOOP_ENV": "qa"})
    assert result.exit_code == 2
    assert "'qa'" in result.stderr


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration
def test_error_line_is_red_in_a_colour_terminal(project_dir: Path) -> None:
    assert _cli(["db", "upgrade"], project_dir).returncode == 0
    done = _cli(["runs", "show", "nope"], project_dir, FORCE_COLOR="1", COLUMNS="40")
    assert done.returncode == 2
    assert "\x1b[" in done.stderr and "31m" in done.stderr  # ANSI red
    assert len(error_lines(done.stderr)) == 1  # long messages are not wrapped at 40 columns
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_debug_shows_the_traceback(project_dir: Path) -> None:
    assert _cli(["db", "upgrade"], project_dir).returncode == 0
    done = _cli(["--debug", "runs", "show", "nope"], project_dir)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "RunNotFoundError" in done.stderr
