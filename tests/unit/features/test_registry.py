"""apply stores versioned definitions in the metadata store; incompatible changes need force."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from mloop.errors import FeatureNotFoundError, IncompatibleFeatureChangeError
from mloop.features import FeatureService, FeatureView, Field, Float64, Int64, String
from mloop.features.store import FeatureStore


def test_apply_is_idempotent_and_versions_changes(project_dir: Path, stats_view) -> None:
    store = FeatureStore(project_dir)
    first = store.apply([stats_view])
    assert {(c.kind, c.action, c.version) for c in first} == {
        ("entity", "create", 1),
        ("feature_view", "create", 1),
    }
    again = store.apply([stats_view])
    assert {c.action for c in again} == {"unchanged"}
    changed = replace(stats_view, ttl=timedelta(hours=3))
    update = next(c for c in store.apply([changed]) if c.kind == "feature_view")
    assert (update.action, update.version, update.changes) == ("update", 2, ["ttl_s changed"])
    history = store.registry.history("feature_view", "driver_stats")
    assert [h.version for h in history] == [1, 2]
    assert history[-1].spec["ttl_s"] == 3 * 3600


def test_definitions_are_visible_from_another_store_object(project_dir: Path, store) -> None:
    other = FeatureStore(project_dir)
    view = other.get_feature_view("driver_stats")
    assert view.feature_names == ["rate", "trips"]
    assert [e.name for e in other.list_entities()] == ["driver"]


def test_type_change_needs_force_and_is_recorded(project_dir: Path, store, stats_view) -> None:
    retyped = replace(stats_view, schema=[Field("rate", String), Field("trips", Int64)])
    plan = next(c for c in store.plan([retyped]) if c.kind == "feature_view")
    assert plan.incompatible == ["field 'rate' type float64 -> string"]
    with pytest.raises(IncompatibleFeatureChangeError, match=r"rate.*--force"):
        store.apply([retyped])
    assert len(store.registry.history("feature_view", "driver_stats")) == 1
    store.apply([retyped], force=True)
    latest = store.registry.history("feature_view", "driver_stats")[-1]
    assert latest.forced and "rate" in (latest.change or "")
    assert store.get_feature_view("driver_stats").schema[0].dtype == String


def test_adding_a_feature_is_compatible(store, stats_view) -> None:
    wider = replace(stats_view, schema=[*stats_view.schema, Field("score", Float64)])
    change = next(c for c in store.apply([wider]) if c.kind == "feature_view")
    assert change.action == "update" and not change.incompatible
    assert change.changes == ["field 'score' added"]


def test_service_with_unknown_feature_is_refused(store, stats_view) -> None:
    ghost = FeatureView("ghost", stats_view.entities, [Field("x", Float64)], stats_view.source)
    with pytest.raises(FeatureNotFoundError, match="ghost:x"):
        store.apply([FeatureService("svc", [ghost])])
    store.apply([FeatureService("svc", [stats_view[["rate"]]])])
    assert store.get_feature_service("svc").feature_refs() == ["driver_stats:rate"]
    with pytest.raises(FeatureNotFoundError, match="nope"):
        store.get_feature_service("nope")


@pytest.mark.integration
def test_definitions_on_postgresql(project_dir: Path, stats_view, postgres_url: str) -> None:
    store = FeatureStore(project_dir, metadata_url=postgres_url)
    store.apply([stats_view])
    store.apply([replace(stats_view, ttl=timedelta(hours=5))])
    assert [h.version for h in store.registry.history("feature_view", "driver_stats")] == [1, 2]
    again = FeatureStore(project_dir, metadata_url=postgres_url)
    assert again.get_feature_view("driver_stats").ttl == timedelta(hours=5)
