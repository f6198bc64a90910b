"""The local runner (serial and in threads) against the runner contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.config import Settings
from mloop.testing.contracts import RunnerContract


def _settings(tmp_path: Path, runner: dict) -> Settings:
    return Settings(
        project_dir=tmp_path,
        project="contract",
        environment="dev",
        metadata_url=f"sqlite:///{tmp_path / 'mloop.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        runner=runner,
    )


class TestLocalRunner(RunnerContract):
    __test__ = True
    backend = ("runners", "local")

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return _settings(tmp_path, {"type": "local"})


class TestLocalRunnerOnFsspec(RunnerContract):
    """The same contract with artifacts through the fsspec store (as on S3)."""

    __test__ = True
    backend = ("runners", "local")

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        settings = _settings(tmp_path, {"type": "local"})
        return Settings(**{**settings.__dict__, "artifact_root": f"file://{tmp_path / 'fs'}"})
