"""Fixtures of the monitoring tests (the kit itself is monitored_project.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest


def load_kit() -> Any:
    """monitored_project.py as a module (tests are imported with --import-mode=importlib)."""
    name = "mloop_tests_monitored_project"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("monitored_project.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def project(project_dir: Path) -> Any:
    return load_kit().Project(project_dir)
