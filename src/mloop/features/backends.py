"""Opening the feature store's backends from a choice in code or in mloop.yaml.

Both kinds are found in the one backend table (:mod:`mloop.plugins`, kinds ``online_stores`` and
``offline_stores``): a built-in short name, an installed entry point or a dotted path. A choice is
a config dict ``{"type": NAME, ...}`` validated by the backend's pydantic ``Config``; an unknown
type is a ``BackendNotFoundError`` listing the known ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop import plugins
from mloop.errors import ConfigError
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.online_stores.base import OnlineStore

__all__ = ["DEFAULT_OFFLINE", "DEFAULT_ONLINE", "open_offline_store", "open_online_store"]

DEFAULT_ONLINE = {"type": "sqlite"}
DEFAULT_OFFLINE = {"type": "duckdb"}


def open_online_store(choice: Any, repo_path: Path, project: str) -> OnlineStore:
    """``choice``: an ``OnlineStore``, a short name (``"sqlite"``), a ``redis://`` URL or a
    config dict; Redis keys are scoped by ``project`` unless the config names a namespace."""
    if isinstance(choice, OnlineStore):
        return choice
    if isinstance(choice, str):
        choice = {"type": "redis", "url": choice} if "://" in choice else {"type": choice}
    choice = _typed("online_store", choice, "online_stores")
    if choice["type"] == "redis" and not choice.get("project"):
        choice = {**choice, "project": project}  # keys scoped by project
    cls = plugins.load("online_stores", choice["type"])
    return cls.from_config(_config("online_store", cls, choice), repo_path)


def open_offline_store(choice: Any, repo_path: Path) -> OfflineStore:
    """``choice``: an ``OfflineStore``, a short name (``"duckdb"``) or a config dict."""
    if isinstance(choice, OfflineStore):
        return choice
    if isinstance(choice, str):
        choice = {"type": choice}
    choice = _typed("offline_store", choice, "offline_stores")
    cls = plugins.load("offline_stores", choice["type"])
    if not (isinstance(cls, type) and issubclass(cls, OfflineStore)):
        raise ConfigError(
            f"offline_store type {choice['type']!r} resolves to {cls!r}, which is not an "
            "mloop.features.offline_stores.base.OfflineStore subclass"
        )
    return cls.from_config(_config("offline_store", cls, choice), repo_path)


def _typed(setting: str, choice: Any, kind: str) -> dict[str, Any]:
    if not isinstance(choice, dict) or "type" not in choice:
        known = ", ".join(plugins.known_names(kind))
        raise ConfigError(f"{setting} {choice!r} needs a 'type' (one of: {known})")
    return choice


def _config(setting: str, cls: Any, choice: dict[str, Any]) -> Any:
    try:
        return cls.Config(**choice)
    except Exception as exc:  # pydantic's ValidationError; named in the message
        raise ConfigError(f"{setting} settings {choice!r} are invalid: {exc}") from exc
