"""A small project with three environments (test, staging, prod), each with its own stores."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PROJECT = """
environments:
  test:
    metadata: sqlite:///.mloop/test.db
    artifacts: .mloop/test-artifacts
  staging:
    metadata: sqlite:///.mloop/staging.db
    artifacts: .mloop/staging-artifacts
    promotion: {from: test, approval: review}
  prod:
    metadata: {prod_metadata}
    artifacts: .mloop/prod-artifacts
    promotion: {from: staging, approval: manual, min_successful_runs: 2}
pipelines:
  scoring:
    entrypoint: pipelines/scoring.py:scoring
    params: {factor: 2}
"""

PIPELINE = """
from mloop import pipeline, step

from helpers.numbers import scale


@step
def load(n: int = 3) -> list:
    return list(range(n))


@step
def transform(values: list, factor: int = 1) -> dict:
    return {"total": sum(scale(v, factor) for v in values)}


@pipeline
def scoring(n: int = 3, factor: int = 1):
    transform(load(n), factor=factor)
"""

HELPER = """
def scale(value: int, factor: int) -> int:
    return value * factor
"""


def write_cicd_project(folder: Path, prod_metadata: str = "sqlite:///.mloop/prod.db") -> Path:
    """Write the project (mloop.yaml, a pipeline importing a helper package) into ``folder``."""
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    (folder / "helpers").mkdir(exist_ok=True)
    text = textwrap.dedent(PROJECT).replace("{prod_metadata}", prod_metadata)
    (folder / "mloop.yaml").write_text(text.lstrip("\n"), encoding="utf-8")
    (folder / "pipelines" / "scoring.py").write_text(PIPELINE.lstrip("\n"), encoding="utf-8")
    (folder / "helpers" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "helpers" / "numbers.py").write_text(HELPER.lstrip("\n"), encoding="utf-8")
    return folder


@pytest.fixture
def cicd_project(project_dir: Path) -> Path:
    return write_cicd_project(project_dir)
