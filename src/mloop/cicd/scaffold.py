"""``mloop init``: scaffold a project that reaches level 2 from its first commit.

The files come from ``mloop/cicd/templates/init`` (shipped in the wheel); ``__PROJECT__`` in
them becomes the project's name and ``__MLOOP_REQUIREMENT__`` what CI installs. Templates are
stored under neutral names (``gitlab-ci.yml.tmpl``, not ``.gitlab-ci.yml``) so that no tool
mistakes them for this repository's own configuration; :data:`LAYOUT` says where each lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mloop import __version__
from mloop.errors import ValidationError

__all__ = ["LAYOUT", "ScaffoldResult", "project_name", "scaffold_project"]

LAYOUT: dict[str, str] = {
    "mloop.yaml.tmpl": "mloop.yaml",
    "training.py.tmpl": "pipelines/training.py",
    "features.py.tmpl": "pipelines/features.py",
    "test_features.py.tmpl": "tests/test_features.py",
    "churn.csv": "data/churn.csv",
    "github-workflow.yml.tmpl": ".github/workflows/mloop.yml",
    "gitlab-ci.yml.tmpl": ".gitlab-ci.yml",
    "gitignore.tmpl": ".gitignore",
    "README.md.tmpl": "README.md",
}
"""Template file -> path in the new project."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

POLICIES = {
    "__PROMOTION_STAGING__": "    promotion: {approval: auto}   # deployed on merge\n",
    "__PROMOTION_PROD__": (
        "    promotion: {from: staging, approval: manual, min_successful_runs: 2}\n"
    ),
}
"""The deployment policy of each environment, written when this mloop's project file knows
``promotion:`` (see docs/cicd.md); an older one gets the environments without it."""


def _policies() -> dict[str, str]:
    from mloop.config import EnvironmentConfig

    known = "promotion" in EnvironmentConfig.model_fields
    return {key: line if known else "" for key, line in POLICIES.items()}


@dataclass(frozen=True)
class ScaffoldResult:
    """What ``mloop init`` wrote: the project folder, its name and the files (relative)."""

    folder: Path
    name: str
    files: tuple[str, ...]


def project_name(folder: Path, name: str | None) -> str:
    """``name``, else the folder's name made into an identifier (``my-proj`` -> ``my_proj``),
    which also names the registered model."""
    candidate = name if name is not None else re.sub(r"[^A-Za-z0-9_]", "_", folder.resolve().name)
    if not _NAME.match(candidate):
        raise ValidationError(
            f"project name {candidate!r} is not valid: start with a letter, then letters, digits "
            "or underscores (at most 63); give one with --name"
        )
    return candidate


def scaffold_project(
    folder: Path, *, name: str | None = None, requirement: str | None = None, force: bool = False
) -> ScaffoldResult:
    """Write the project into ``folder`` (created if needed). Refuses to overwrite any file
    unless ``force``: an ``mloop init`` never destroys work."""
    project = project_name(folder, name)
    requirement = requirement or f"mloop=={__version__}"
    templates = resources.files("mloop.cicd") / "templates" / "init"
    existing = [dest for dest in LAYOUT.values() if (folder / dest).exists()]
    if existing and not force:
        raise ValidationError(
            f"{folder} already has {', '.join(existing)}; use an empty folder or --force"
        )
    written = []
    for source, dest in LAYOUT.items():
        text = (templates / source).read_text(encoding="utf-8")
        text = text.replace("__PROJECT__", project).replace("__MLOOP_REQUIREMENT__", requirement)
        for key, line in _policies().items():
            text = text.replace(key, line)
        target = folder / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(dest)
    return ScaffoldResult(folder, project, tuple(written))
