"""Check (a) of ``mloop ci``: the project's own unit tests (its feature logic), run by pytest
in a subprocess so that their imports, fixtures and failures stay out of this process. Each
pytest test case becomes one check, read back from the JUnit XML pytest writes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mloop.cicd.ci.junit import read_junit
from mloop.cicd.ci.results import CheckResult

__all__ = ["SUITE", "run_unit_tests"]

SUITE = "unit-tests"
NO_TESTS_COLLECTED = 5  # pytest's exit code when it found no tests


def run_unit_tests(project_dir: Path, tests: str | None, *, timeout_s: float) -> list[CheckResult]:
    """Run ``pytest TESTS`` in ``project_dir``; one result per test case, or one result saying
    why nothing ran (no folder: skipped; pytest could not start or timed out: error)."""
    if tests is None:
        return [CheckResult(SUITE, "pytest", "skipped", "ci.tests is null: no unit tests")]
    folder = (project_dir / tests).resolve()
    if not folder.exists():
        return [
            CheckResult(
                SUITE, "pytest", "skipped", f"no tests folder {tests} (set ci.tests in mloop.yaml)"
            )
        ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mloop-ci-pytest-") as tmp:
        xml = Path(tmp) / "pytest.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={xml}",
            "-o",
            "junit_family=xunit2",
            str(folder),
        ]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            proc = subprocess.run(
                command,
                cwd=project_dir,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [
                CheckResult(
                    SUITE,
                    "pytest",
                    "error",
                    f"pytest did not finish within {timeout_s:.0f} s (raise ci.timeout_s)",
                    duration_s=time.monotonic() - started,
                )
            ]
        elapsed = time.monotonic() - started
        if proc.returncode == NO_TESTS_COLLECTED:
            return [CheckResult(SUITE, "pytest", "skipped", f"pytest found no tests in {tests}")]
        cases = read_junit(xml.read_text(encoding="utf-8")) if xml.is_file() else []
    if not cases:
        tail = (proc.stdout + proc.stderr).strip()[-1500:]
        return [
            CheckResult(
                SUITE,
                "pytest",
                "error",
                f"pytest exited with code {proc.returncode} and reported no test cases",
                details=tail,
                duration_s=elapsed,
            )
        ]
    return [CheckResult(SUITE, c.name, c.status, c.message, c.details, c.duration_s) for c in cases]
