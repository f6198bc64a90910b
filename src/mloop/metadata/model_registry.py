"""The model registry's records and the contract of the store that keeps them.

Registered models, their numbered versions (each linked to the run that produced it, the model
package artifact and the training data artifact), aliases (``production``, ``staging``...) and
the append-only history of every alias move: who or what moved it, when, why. Rollback and the
UI read that history; nothing about a promotion lives only in a log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AliasChange", "ModelRegistryStore", "ModelVersion", "RegisteredModel"]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version
    latest_version: int | None = None


@dataclass(frozen=True)
class ModelVersion:
    """Version ``version`` of model ``name``: the package at ``uri`` (artifact store) whose
    package digest is ``digest``."""

    name: str
    version: int
    uri: str
    digest: str
    created_at: datetime
    flavor: str | None = None
    artifact_id: str | None = None
    run_id: str | None = None
    data_artifact_id: str | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    created_by: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias: ``from_version`` -> ``to_version`` (None: unset / deleted);
    ``kind`` is ``set``, ``rollback`` or ``delete``."""

    id: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    kind: str
    actor: str
    reason: str
    at: datetime


class ModelRegistryStore(ABC):
    """Registry rows in the metadata store. Every method is one transaction; unknown models,
    versions or aliases raise ``ModelNotFoundError``."""

    @abstractmethod
    def create_version(
        self,
        name: str,
        *,
        uri: str,
        digest: str,
        flavor: str | None = None,
        artifact_id: str | None = None,
        run_id: str | None = None,
        data_artifact_id: str | None = None,
        signature: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        created_by: str | None = None,
    ) -> ModelVersion:
        """Create the registered model if needed and add the next version number (1, 2, ...)."""

    @abstractmethod
    def get_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def search_models(
        self, *, name_contains: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModel]:
        """Models whose name contains the text and that carry every given tag, by name."""

    @abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of the model, newest first."""

    @abstractmethod
    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Set the description and/or merge tags of a registered model."""

    @abstractmethod
    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion: ...

    @abstractmethod
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        actor: str,
        reason: str,
        kind: str = "set",
    ) -> AliasChange:
        """Point ``alias`` at ``version`` (None deletes it) and append the move to its history."""

    @abstractmethod
    def get_alias(self, name: str, alias: str) -> int | None:
        """The version behind the alias, or None. One indexed read (serving polls it)."""

    @abstractmethod
    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one), oldest first."""

    def versions_by_digest(self, name: str, digest: str) -> Sequence[ModelVersion]:
        """Versions of ``name`` whose package digest is ``digest``."""
        return [v for v in self.list_versions(name) if v.digest == digest]
