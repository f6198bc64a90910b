"""``import mloop`` and ``mloop --help`` stay light: no data, database or cluster library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ["polars", "pandas", "pyarrow", "sqlalchemy", "ray", "sklearn", "alembic", "duckdb"]


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")},
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import mloop",
        "import mloop.errors, mloop.config, mloop.plugins",
        "from mloop.cli.main import app",
    ],
)
def test_importing_mloop_loads_no_heavy_library(code: str) -> None:
    loaded = modules_after(code)
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], f"{code!r} imported {heavy}"


def test_cli_help_imports_no_command_module_and_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from mloop.cli.main import main\n"
        "sys.argv = ['mloop', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = modules_after(code)
    assert not [m for m in HEAVY if m in loaded]
    assert "mloop.cli.commands.run" not in loaded and "mloop.pipelines.dsl" not in loaded
    assert "pydantic" not in loaded  # settings are read only when a command needs them


@pytest.mark.integration
def test_mloop_help_works_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mloop", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for group in ("quickstart", "run", "runs", "lineage", "db"):
        assert group in done.stdout
