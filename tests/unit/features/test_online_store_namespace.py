"""Redis keys are scoped by project by default (no Redis needed: clients connect lazily)."""

from __future__ import annotations

from pathlib import Path

from mloop.features.online_stores.redis import (
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    _glob_escape,
    project_namespace,
)
from mloop.features.store import FeatureStore


def test_the_namespace_defaults_to_the_project(tmp_path: Path) -> None:
    config = RedisOnlineStoreConfig(url="redis://127.0.0.1:6379/15", project="shop")
    assert RedisOnlineStore.from_config(config).namespace == "mloop:shop"
    folder = tmp_path / "depot"
    folder.mkdir()
    bare = RedisOnlineStore.from_config(RedisOnlineStoreConfig(), folder)
    assert bare.namespace == "mloop:depot"
    explicit = RedisOnlineStoreConfig(namespace="mloop", project="shop")
    assert RedisOnlineStore.from_config(explicit).namespace == "mloop"
    assert project_namespace("a:b%") == "mloop:a%3Ab%25"  # ':' cannot fake a view prefix


def test_feature_store_names_the_project(project_dir: Path) -> None:
    folder = project_dir / "my-project"
    folder.mkdir()
    fs = FeatureStore(folder, online_store="redis://127.0.0.1:6379/15")
    assert fs.project == "my-project" and fs.online_store.namespace == "mloop:my-project"
    (folder / "mloop.yaml").write_text("project: lending\n")
    named = FeatureStore(folder, online_store={"type": "redis"})
    assert named.online_store.namespace == "mloop:lending"
    override = FeatureStore(folder, online_store={"type": "redis", "namespace": "team-a"})
    assert override.online_store.namespace == "team-a"


def test_scan_patterns_escape_glob_characters() -> None:
    assert _glob_escape("mloop:a*b?[c]:v:") == "mloop:a\\*b\\?\\[c\\]:v:"
