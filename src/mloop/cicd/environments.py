"""The environments of a project (test, staging, prod...), each with its own stores, and who acts.

Each environment of ``mloop.yaml`` names its own metadata and artifact stores; deploying,
promoting and counting runs always open the stores of the environment concerned, never the
global ones. ``MLOOP_METADATA_URL`` / ``MLOOP_ARTIFACT_ROOT`` override every environment at
once, so they are ignored here: an environment is what the project file says it is.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from mloop.artifacts import connect as connect_artifacts
from mloop.artifacts.base import ArtifactStore
from mloop.config import PromotionPolicy, Settings, load_settings
from mloop.errors import ConfigError
from mloop.metadata import connect as connect_metadata
from mloop.metadata.base import MetadataStore
from mloop.metadata.deployments import DeploymentStore

ACTOR_ENV = "MLOOP_USER"
"""The variable naming who deploys or approves (default: the operating-system user)."""


def current_actor() -> str:
    """Who is acting: ``MLOOP_USER``, else the login name (recorded on every deployment)."""
    name = os.environ.get(ACTOR_ENV) or ""
    if not name.strip():
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name.strip()


@dataclass
class Environment:
    """One environment: its settings, policy and stores (opened on first use)."""

    settings: Settings
    _store: MetadataStore | None = None
    _artifacts: ArtifactStore | None = None

    @property
    def name(self) -> str:
        return self.settings.environment

    @property
    def policy(self) -> PromotionPolicy:
        return self.settings.promotion

    @property
    def store(self) -> MetadataStore:
        if self._store is None:
            self._store = connect_metadata(self.settings.metadata_url)
        return self._store

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            self._artifacts = connect_artifacts(self.settings.artifact_root)
        return self._artifacts

    @property
    def deployments(self) -> DeploymentStore:
        return self.store.deployments()


def open_environment(project_dir: Path | str | None, name: str | None) -> Environment:
    """The environment ``name`` of the project (``None``: the one settings pick by default),
    with the stores its project-file entry names."""
    with _without_store_overrides():
        settings = load_settings(project_dir, env=name)
    if name is not None and settings.environments and name not in settings.environments:
        raise ConfigError(f"environment {name!r} is not defined in mloop.yaml")
    return Environment(settings)


def environment_names(project_dir: Path | str | None) -> tuple[str, ...]:
    """The environments the project file defines, in file order."""
    return load_settings(project_dir).environments


class _without_store_overrides:
    """Hide ``MLOOP_METADATA_URL``/``MLOOP_ARTIFACT_ROOT`` while resolving (see module doc)."""

    _KEYS = ("MLOOP_METADATA_URL", "MLOOP_ARTIFACT_ROOT")

    def __enter__(self) -> None:
        self._saved = {k: os.environ.pop(k) for k in self._KEYS if k in os.environ}

    def __exit__(self, *exc: object) -> None:
        os.environ.update(self._saved)
