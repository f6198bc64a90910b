"""Online reads say why a value is null: statuses per value, counts, on-demand outputs taking
the worst status of their inputs, ttl judged at ``as_of``, and a warning at materialize."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from mloop.errors import StaleFeaturesWarning
from mloop.features import (
    Entity,
    FeatureView,
    Field,
    FileSource,
    Float64,
    Int64,
    RequestSource,
    String,
    on_demand_feature_view,
)
from mloop.features.online import FieldStatus
from mloop.features.store import FeatureStore

from .conftest import hours

REFS = ["driver_stats:rate", "driver_stats:trips"]
P, NULL, NF, OLD = (
    FieldStatus.PRESENT,
    FieldStatus.NULL_VALUE,
    FieldStatus.NOT_FOUND,
    FieldStatus.OUTSIDE_TTL,
)


@pytest.fixture
def materialized(store: FeatureStore) -> FeatureStore:
    with pytest.warns(StaleFeaturesWarning, match="2 of 2 rows"):
        store.materialize(hours(0), hours(10))
    return store


def test_rows_materialized_from_history_say_outside_max_age(materialized) -> None:
    online = materialized.get_online_features(REFS, [{"driver_id": 1}, {"driver_id": 9}])
    assert online.to_dict()["rate"] == [None, None]
    assert online.statuses["rate"] == [OLD, NF]
    assert online.status_counts() == {"OUTSIDE_MAX_AGE": 2, "NOT_FOUND": 2}


def test_as_of_judges_the_ttl_at_another_time(materialized) -> None:
    rows = [{"driver_id": 2}, {"driver_id": 1}]
    online = materialized.get_online_features(REFS, rows, as_of=hours(5.5))  # naive: UTC
    assert online.to_dict()["rate"] == [0.5, None]  # driver 1's row (1 h) is 4.5 h old
    assert online.statuses["rate"] == [P, OLD]
    aware = hours(3).replace(tzinfo=timezone(timedelta(hours=-5)))  # = 08:00 UTC
    assert materialized.get_online_features(REFS, rows, as_of=aware).statuses["rate"] == [OLD, OLD]
    one = materialized.get_online_features(["driver_stats:trips"], rows[:1], as_of=hours(6))
    assert one.to_dict()["trips"] == [5] and one.status_counts() == {"PRESENT": 1}


def test_on_demand_outputs_take_the_worst_input_status(materialized, stats_view) -> None:
    @on_demand_feature_view(
        sources=[stats_view[["rate"]], RequestSource("req", [Field("bonus", Float64)])],
        schema=[Field("score", Float64), Field("filled", Float64)],
    )
    def score(frame):
        return frame.with_columns(
            score=frame["rate"] * 10 + frame["bonus"],
            filled=frame["rate"].fill_null(0.0) + frame["bonus"],
        )

    @on_demand_feature_view(
        sources=[RequestSource("req2", [Field("bonus", Float64)])],
        schema=[Field("double", Float64)],
    )
    def request_only(frame):
        return frame.with_columns(double=frame["bonus"] * 2)

    materialized.apply([score, request_only])
    rows = [{"driver_id": 1, "bonus": 1.0}, {"driver_id": 9, "bonus": 2.0}]
    refs = ["score:score", "score:filled", "request_only:double"]
    online = materialized.get_online_features(refs, rows)
    assert online.to_dict()["score"] == [None, None]
    assert online.to_dict()["filled"] == [1.0, 2.0]  # a value, but built from nothing fresh
    assert online.statuses["score"] == [OLD, NF]
    assert online.statuses["filled"] == [OLD, NF]
    assert online.statuses["double"] == [P, P]
    fresh = materialized.get_online_features(refs, [{"driver_id": 2, "bonus": 1.0}], as_of=hours(6))
    assert fresh.to_dict()["score"] == [6.0] and fresh.statuses["score"] == [P]
    feast = online.to_feast_json()
    assert feast["results"][1]["statuses"] == ["OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert feast["metadata"]["status_counts"] == {
        "PRESENT": 2,
        "NOT_FOUND": 2,
        "OUTSIDE_MAX_AGE": 2,
    }


def test_a_stored_null_is_null_value_not_not_found(project_dir: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    pl.DataFrame(
        {
            "city": ["a", "b", "c"],
            "ts": [now - timedelta(minutes=m) for m in (1, 2, 3)],
            "temp": [1.5, None, float("nan")],
            "label": [None, "x", "y"],
            "n": [None, 2, 3],
        }
    ).write_parquet(project_dir / "city.parquet")
    view = FeatureView(
        "city",
        [Entity("city", value_type=String)],
        [Field("temp", Float64), Field("label", String), Field("n", Int64)],
        FileSource("city.parquet", timestamp_field="ts"),
        ttl=timedelta(hours=1),
    )
    store = FeatureStore(project_dir)
    store.apply([view])
    (result,) = store.materialize(now - timedelta(days=1), now)  # fresh: no warning
    assert result.outside_ttl == 0
    refs = ["city:temp", "city:label", "city:n"]
    rows = [{"city": c} for c in ("a", "b", "c", "zz")]
    online = store.get_online_features(refs, rows)
    assert online.to_dict()["temp"] == [1.5, None, None, None]
    assert online.statuses["temp"] == [P, NULL, NULL, NF]
    assert online.statuses["label"] == [NULL, P, P, NF]
    assert online.statuses["n"] == [NULL, P, P, NF]
    assert online.status_counts() == {"PRESENT": 5, "NULL_VALUE": 4, "NOT_FOUND": 3}
    single = store.get_online_features(refs, rows[1:2])  # the one-entity path
    assert single.statuses["temp"] == [NULL] and single.statuses["label"] == [P]
    store.close()


def test_a_long_lived_store_uses_a_definition_another_process_applied(
    materialized, stats_view, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feature server kept its first retrieval plan (and the view object applied in its own
    process) for good: a ttl shortened by another process's apply never applied, so stale
    values were served as PRESENT. Now it is used within DEFINITIONS_CHECK_S."""
    from dataclasses import replace

    from mloop.features import store as store_module

    rows = [{"driver_id": 2}]
    before = materialized.get_online_features(REFS, rows, as_of=hours(5.5))
    assert before.statuses["rate"] == [P]  # 0.5 h old, ttl 2 h

    elsewhere = FeatureStore(project_dir)  # another process: its own registry and objects
    elsewhere.apply([replace(stats_view, ttl=timedelta(minutes=15))])
    elsewhere.close()

    monkeypatch.setattr(store_module, "DEFINITIONS_CHECK_S", 3600.0)
    kept = materialized.get_online_features(REFS, rows, as_of=hours(5.5))
    assert kept.statuses["rate"] == [P]  # within the check interval the plan is kept
    monkeypatch.setattr(store_module, "DEFINITIONS_CHECK_S", 0.0)
    after = materialized.get_online_features(REFS, rows, as_of=hours(5.5))
    assert after.statuses["rate"] == [OLD] and after.to_dict()["rate"] == [None]
    assert materialized.get_feature_view("driver_stats").ttl == timedelta(minutes=15)


def test_online_reads_go_on_when_the_metadata_store_is_down(
    materialized, project_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The once-a-second definitions check must not make online reads depend on the metadata
    store: while it is down, the plans already made answer (with a warning)."""
    from mloop.errors import StoreError
    from mloop.features import store as store_module

    rows = [{"driver_id": 2}]
    first = materialized.get_online_features(REFS, rows, as_of=hours(5.5))

    def down() -> object:
        raise StoreError("metadata store unreachable")

    monkeypatch.setattr(store_module, "DEFINITIONS_CHECK_S", 0.0)
    monkeypatch.setattr(materialized.registry, "generation", down)
    with caplog.at_level("WARNING", logger="mloop.features.store"):
        again = materialized.get_online_features(REFS, rows, as_of=hours(5.5))
    assert again.to_dict() == first.to_dict() and again.statuses == first.statuses
    assert "using the cached plans" in caplog.text
    fresh = FeatureStore(project_dir)
    monkeypatch.setattr(fresh.registry, "generation", down)
    with pytest.raises(StoreError, match="unreachable"):  # nothing cached: the reason is raised
        fresh.get_online_features(REFS, rows)
    fresh.close()
