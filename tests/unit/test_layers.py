"""The layering rule of DESIGN.md holds: import-linter's contract in pyproject.toml is kept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_import_linter_contract_is_kept() -> None:
    command = shutil.which("lint-imports")
    args = [command] if command else [sys.executable, "-m", "importlinter.cli"]
    done = subprocess.run(
        [*args, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken" in done.stdout
