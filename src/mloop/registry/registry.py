"""The model registry: register packages as numbered versions, move aliases with a recorded
reason, roll back, search, and resolve ``models:/`` URIs.

``ModelRegistry`` works on a metadata store and an artifact store; the module-level functions
use the project's default stores (``mloop.config.load_settings()``). Serving resolves
``models:/name@alias`` with :func:`resolve` and watches an alias with :func:`get_alias` (one
indexed read).
"""

from __future__ import annotations

import getpass
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mloop.artifacts.base import ArtifactStore
from mloop.errors import IntegrityError, ModelNotFoundError, ValidationError
from mloop.metadata.base import MetadataStore
from mloop.metadata.model_registry import (
    AliasChange,
    ModelRegistryStore,
    ModelVersion,
    RegisteredModel,
)
from mloop.models.api import LoadedModel, ModelPackage, open_package
from mloop.models.api import load_model as load_package
from mloop.registry.uris import parse_model_uri

__all__ = ["ModelRegistry", "default_actor", "default_registry"]


NO_REASON = "(no reason given)"


def default_actor() -> str:
    """``user@host``: who moved an alias when the caller does not say."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class ModelRegistry:
    """Registry operations on one metadata store and one artifact store (no I/O at init)."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    @property
    def _rows(self) -> ModelRegistryStore:
        return self.store.model_registry()

    # -- versions ------------------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        package_or_path: ModelPackage | str | Path,
        *,
        run_id: str | None = None,
        artifact_id: str | None = None,
        data_artifact_id: str | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Add the package as the next version of ``name`` (the model is created on first use).

        With ``artifact_id`` (a pipeline's Model artifact) the version points at that artifact;
        otherwise the package is copied into the artifact store under ``registry/NAME/``.
        """
        package = (
            package_or_path
            if isinstance(package_or_path, ModelPackage)
            else open_package(package_or_path)
        )
        if artifact_id is not None:
            uri = self.store.get_artifact(artifact_id).uri
        else:
            uri = self._publish(name, package)
        return self._rows.create_version(
            name,
            uri=uri,
            digest=package.digest,
            flavor=package.flavor,
            artifact_id=artifact_id,
            run_id=run_id,
            data_artifact_id=data_artifact_id,
            signature=None if package.signature is None else package.signature.to_dict(),
            metrics=metrics,
            tags=tags,
            description=description,
            created_by=actor or default_actor(),
        )

    def _publish(self, name: str, package: ModelPackage) -> str:
        uri = f"registry/{name}/{package.digest[:32]}"
        if self.artifacts.exists(uri):
            return uri  # the same bytes were registered before: content-addressed, reuse them
        staging = self.artifacts.new_staging_dir()
        try:
            shutil.copytree(package.path, staging, dirs_exist_ok=True)
            self.artifacts.put_dir(staging, uri)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return uri

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self._rows.get_version(name, version)

    def list_versions(self, name: str) -> list[ModelVersion]:
        return self._rows.list_versions(name)

    def get_model(self, name: str) -> RegisteredModel:
        return self._rows.get_model(name)

    def search_models(
        self, name_contains: str | None = None, *, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModel]:
        return self._rows.search_models(name_contains=name_contains, tags=tags)

    def set_description(self, name: str, description: str, version: int | None = None) -> None:
        if version is None:
            self._rows.update_model(name, description=description)
        else:
            self._rows.update_version(name, version, description=description)

    def set_tags(self, name: str, tags: Mapping[str, str], version: int | None = None) -> None:
        if version is None:
            self._rows.update_model(name, tags=tags)
        else:
            self._rows.update_version(name, version, tags=tags)

    # -- aliases -------------------------------------------------------------------------------
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> AliasChange:
        """Point ``alias`` at ``version``; the move, its actor and reason join the history.
        Without a ``reason`` the history says so (``NO_REASON``), so a later reader knows none
        was given rather than guessing one was lost; a blank one is refused (a mistake)."""
        reason = NO_REASON if reason is None else reason
        return self._rows.set_alias(
            name, alias, int(version), actor=actor or default_actor(), reason=reason
        )

    def delete_alias(
        self, name: str, alias: str, *, reason: str | None = None, actor: str | None = None
    ) -> None:
        reason = NO_REASON if reason is None else reason
        self._rows.set_alias(name, alias, None, actor=actor or default_actor(), reason=reason)

    def get_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version behind ``name@alias``, or None when the alias is not set."""
        version = self._rows.get_alias(name, alias)
        return None if version is None else self._rows.get_version(name, version)

    def alias_version(self, name: str, alias: str) -> int | None:
        """Only the version number behind the alias: the cheapest poll (one indexed read)."""
        return self._rows.get_alias(name, alias)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        return self._rows.alias_history(name, alias)

    def rollback(
        self, name: str, alias: str, *, reason: str, actor: str | None = None
    ) -> AliasChange:
        """Move ``alias`` back to the version it pointed at before the current one.

        The history is replayed as a stack: a move pushes, a rollback pops, so rolling back
        twice after promotions v1 -> v2 -> v3 lands on v1, not back on v3.
        """
        stack: list[int | None] = []
        for change in self._rows.alias_history(name, alias):
            if change.kind == "rollback" and stack:
                stack.pop()
            else:
                stack.append(change.to_version)
        current = self._rows.get_alias(name, alias)
        if current is None:
            raise ModelNotFoundError(
                f"{name}@{alias}", "the alias is not set; nothing to roll back"
            )
        if len(stack) < 2 or stack[-2] is None:
            raise ValidationError(
                f"{name}@{alias} has no earlier version in its history to roll back to; "
                f"set it explicitly with 'mloop models alias {name} {alias} VERSION'"
            )
        return self._rows.set_alias(
            name,
            alias,
            stack[-2],
            actor=actor or default_actor(),
            reason=reason,
            kind="rollback",
        )

    # -- URIs ----------------------------------------------------------------------------------
    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names (``ModelNotFoundError`` if none)."""
        parsed = parse_model_uri(uri)
        if parsed.alias is not None:
            found = self.get_alias(parsed.name, parsed.alias)
            if found is None:
                self._rows.get_model(parsed.name)  # raises when the model itself is unknown
                raise ModelNotFoundError(uri, f"alias {parsed.alias!r} is not set")
            return found
        if parsed.version is None:
            latest = self._rows.get_model(parsed.name).latest_version
            if latest is None:
                raise ModelNotFoundError(uri, "the model has no versions")
            return self._rows.get_version(parsed.name, latest)
        return self._rows.get_version(parsed.name, parsed.version)

    def open_package(self, uri_or_version: str | ModelVersion) -> ModelPackage:
        """A private local copy of the version's package, verified against the registry digest."""
        version = self._version(uri_or_version)
        with self.artifacts.open_local(version.uri) as folder:
            package = open_package(folder, copy=True)
        if package.digest != version.digest:
            raise IntegrityError(version.uri, version.digest, package.digest)
        return package

    def load_model(
        self,
        uri_or_version: str | ModelVersion,
        *,
        expected_digest: str | None = None,
        strict: bool = False,
    ) -> LoadedModel:
        """The runnable model behind a ``models:/`` URI or an already resolved version: the
        URI is resolved once (one registry read), the package's folder is handed to
        :func:`mloop.models.load_model` with the digest the registry recorded, which is
        verified before anything is deserialized. ``expected_digest`` must equal it too."""
        version = self._version(uri_or_version)
        if expected_digest is not None and expected_digest != version.digest:
            raise IntegrityError(version.model_uri, expected_digest, version.digest)
        with self.artifacts.open_local(version.uri) as folder:
            return load_package(folder, expected_digest=version.digest, strict=strict)

    def _version(self, uri_or_version: str | ModelVersion) -> ModelVersion:
        return self.resolve(uri_or_version) if isinstance(uri_or_version, str) else uri_or_version


def default_registry(settings: Any = None) -> ModelRegistry:
    """The registry on the project's stores (``load_settings()`` unless ``settings``)."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.metadata import connect as connect_metadata

    settings = settings or load_settings()
    return ModelRegistry(
        connect_metadata(settings.metadata_url), connect_artifacts(settings.artifact_root)
    )
