"""Fixtures of the monitoring tests (the kit itself is monitored_project.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def project(project_dir: Path, monitoring_kit: Any) -> Any:
    return monitoring_kit.Project(project_dir)
