"""The feature steps inside real pipeline runs: training set with lineage, materialization."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mloop.components.feature_retrieval import build_training_set
from mloop.components.materialize import feature_materialization
from mloop.config import load_settings
from mloop.errors import StaleFeaturesWarning
from mloop.features import FeatureService
from mloop.metadata import connect, lineage
from mloop.pipelines.dsl import pipeline

from .conftest import hours


@pipeline
def training_set(rows: str = "rows.parquet"):
    build_training_set(rows, "svc")


def test_training_set_step_links_feature_view_versions(
    project_dir: Path, store, stats_view
) -> None:
    store.apply([FeatureService("svc", [stats_view[["rate"]]])])
    pl.DataFrame({"driver_id": [1, 2], "event_timestamp": [hours(1), hours(5)]}).write_parquet(
        "rows.parquet"
    )
    handle = training_set.run()
    assert handle.state.value == "succeeded"
    table = handle.outputs["build_training_set"]
    assert table.column("rate").to_pylist() == [0.2, 0.5]
    meta = connect(load_settings(project_dir).metadata_url)
    (execution,) = handle.executions
    inputs = {
        e.name: meta.get_artifact(e.artifact_id)
        for e in meta.list_events(execution_id=execution.id)
        if e.kind.value == "input"
    }
    # the entity rows file is read by path, so it is an input too (its content keys the cache)
    assert set(inputs) == {"feature_view:driver_stats", "feature_service:svc", "entity_rows"}
    assert inputs["entity_rows"].type == "File"
    assert inputs["entity_rows"].uri == (project_dir / "rows.parquet").as_uri()
    view_artifact = inputs["feature_view:driver_stats"]
    assert view_artifact.type == "FeatureView"
    assert view_artifact.properties == {
        "kind": "feature_view",
        "name": "driver_stats",
        "version": 1,
    }
    tree = lineage(meta, handle.id, "upstream")

    def ids(node) -> set[str]:
        return {node.id}.union(*(ids(c) for c in node.children))

    assert view_artifact.id in ids(tree)


def test_materialization_pipeline_is_incremental(project_dir: Path, store) -> None:
    with pytest.warns(StaleFeaturesWarning):  # 2024 rows, 2 h ttl: stale at once
        first = feature_materialization.run(end=hours(0.5).isoformat())
    assert first.state.value == "succeeded"
    assert first.outputs["materialize_features"] == {"driver_stats": 2}
    assert store.online_store.read("driver_stats", ["2"], ["rate"])[0][0] == [0.3]
    with pytest.warns(StaleFeaturesWarning):
        second = feature_materialization.run(end=hours(10).isoformat())
    assert second.outputs["materialize_features"] == {"driver_stats": 2}
    assert store.online_store.read("driver_stats", ["2"], ["rate"])[0][0] == [0.5]
