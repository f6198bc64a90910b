"""The model registry: versions of packaged models, aliases with history, ``models:/`` URIs.

    from mloop import registry
    v = registry.register_model("lending", "out/model", run_id=run.id)
    registry.set_alias("lending", "production", v.version, reason="beats v1 on AUC")
    registry.resolve("models:/lending@production")      # -> ModelVersion
    model = registry.load_model("models:/lending@production")   # also mloop.load_model
    registry.rollback("lending", "production", reason="complaints from the loans team")

Module-level functions use the project's default stores; ``ModelRegistry(store, artifacts)``
works on explicit ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mloop.metadata.model_registry import AliasChange, ModelVersion, RegisteredModel
from mloop.registry.registry import NO_REASON, ModelRegistry, default_actor, default_registry
from mloop.registry.uris import SCHEME, ModelUri, parse_model_uri

if TYPE_CHECKING:
    from mloop.models.api import LoadedModel

__all__ = [
    "NO_REASON",
    "AliasChange",
    "ModelRegistry",
    "ModelUri",
    "ModelVersion",
    "RegisteredModel",
    "alias_history",
    "default_actor",
    "default_registry",
    "get_alias",
    "get_model_version",
    "load_model",
    "parse_model_uri",
    "register_model",
    "resolve",
    "rollback",
    "search_models",
    "set_alias",
]


def register_model(name: str, package_or_path: Any, run: Any = None, **kwargs: Any) -> ModelVersion:
    """Register a package (``ModelPackage`` or folder) as the next version of ``name``;
    ``run`` is a run id or an object with ``.id``."""
    run_id = run if run is None or isinstance(run, str) else run.id
    return default_registry().register_model(name, package_or_path, run_id=run_id, **kwargs)


def set_alias(
    name: str, alias: str, version: int, *, reason: str | None = None, actor: str | None = None
) -> AliasChange:
    """Point ``name@alias`` at ``version``; ``reason`` joins the alias history (recorded as
    ``NO_REASON`` when not given)."""
    return default_registry().set_alias(name, alias, version, reason=reason, actor=actor)


def get_alias(name: str, alias: str) -> ModelVersion | None:
    return default_registry().get_alias(name, alias)


def get_model_version(name: str, version: int) -> ModelVersion:
    return default_registry().get_model_version(name, version)


def resolve(uri: str) -> ModelVersion:
    return default_registry().resolve(uri)


def rollback(name: str, alias: str, *, reason: str, actor: str | None = None) -> AliasChange:
    return default_registry().rollback(name, alias, reason=reason, actor=actor)


def search_models(name_contains: str | None = None, **kwargs: Any) -> list[RegisteredModel]:
    return default_registry().search_models(name_contains, **kwargs)


def alias_history(name: str, alias: str | None = None) -> list[AliasChange]:
    return default_registry().alias_history(name, alias)


def load_model(
    uri: str | Path | ModelVersion, *, expected_digest: str | None = None, strict: bool = False
) -> LoadedModel:
    """The one place a ``models:/`` URI becomes a runnable model (``mloop.load_model``): the
    project's registry resolves it once and loads the package folder, checking the digest it
    recorded. A package folder (or a resolved ``ModelVersion``) is loaded as is."""
    if isinstance(uri, ModelVersion) or str(uri).startswith(SCHEME):
        version = uri if isinstance(uri, ModelVersion) else str(uri)
        return default_registry().load_model(
            version, expected_digest=expected_digest, strict=strict
        )
    from mloop.models.api import load_model as load_package

    return load_package(uri, expected_digest=expected_digest, strict=strict)
