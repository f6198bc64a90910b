"""The ``build_training_set`` step: a point-in-time training set from the feature store.

The step records, as inputs of its execution, the stored versions of the feature views (and
on-demand views, and the feature service) it read, so ``mloop lineage`` answers which feature
definitions a model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mloop.components.run_links import step_environment
from mloop.features.store import FeatureStore
from mloop.pipelines.context import get_step_context
from mloop.pipelines.dsl import step

__all__ = ["build_training_set", "read_entity_rows"]


def read_entity_rows(entity_rows: Any) -> Any:
    """A Parquet/CSV path becomes an Arrow table; frames pass through."""
    if isinstance(entity_rows, str):
        if entity_rows.lower().endswith(".csv"):
            import pyarrow.csv as pacsv

            return pacsv.read_csv(entity_rows)
        import pyarrow.parquet as pq

        return pq.read_table(entity_rows)
    return entity_rows


@step(cache=False)
def build_training_set(
    entity_rows: Any,
    features: Sequence[str] | str,
    repo_path: str = ".",
    event_timestamp_column: str = "event_timestamp",
    full_feature_names: bool = False,
) -> pa.Table:
    """Entity rows (a frame or a Parquet/CSV path) joined point-in-time with ``features`` (a
    FeatureService name or ``view:feature`` references); not cached, since feature data moves
    under the same definitions."""
    store = FeatureStore(repo_path, env=step_environment())
    try:
        job = store.get_historical_features(
            read_entity_rows(entity_rows),
            features,
            full_feature_names=full_feature_names,
            event_timestamp_column=event_timestamp_column,
        )
        used = set(job.feature_views)
        plan = store.resolve_features(features, full_feature_names)
        used |= {odfv.name for odfv, _, _ in plan.on_demand}
        if isinstance(features, str) and ":" not in features:
            used.add(features)
        store.registry.link_inputs(get_step_context().execution_id, sorted(used))
        return job.to_arrow()
    finally:
        store.close()
