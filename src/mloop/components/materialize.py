"""The ``materialize_features`` step, and a one-step pipeline the controller can schedule.

Incremental by default: each online view continues from its stored watermark, so a scheduled
run after a failed one redoes only what did not land.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from mloop.components.run_links import step_environment
from mloop.features.store import FeatureStore
from mloop.pipelines.dsl import pipeline, step

__all__ = ["feature_materialization", "materialize_features"]


def _parse_end(end: str | None) -> datetime:
    if end in (None, "now"):
        return datetime.now(timezone.utc)
    parsed = datetime.fromisoformat(end)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@step(cache=False)
def materialize_features(
    end: str | None = None,
    start: str | None = None,
    repo_path: str = ".",
    feature_views: Sequence[str] | None = None,
    online_store: str | None = None,
) -> dict:
    """Materialize up to ``end`` (ISO-8601, default now); from ``start`` if given, else from
    each view's watermark. Returns ``{view: rows written}``."""
    import mloop

    store = FeatureStore(repo_path, online_store=online_store, env=step_environment())
    try:
        end_time = _parse_end(end)
        views = list(feature_views) if feature_views else None
        if start is None:
            results = store.materialize_incremental(end_time, views)
        else:
            results = store.materialize(_parse_end(start), end_time, views)
    finally:
        store.close()
    written = {r.view: r.rows for r in results}
    mloop.log_metrics({f"materialized_rows.{view}": float(n) for view, n in written.items()})
    return written


@pipeline(name="feature_materialization")
def feature_materialization(end: str = "now", repo_path: str = ".") -> None:
    """One step, schedulable from ``mloop.yaml`` (entrypoint
    ``mloop.components.materialize:feature_materialization``, e.g. hourly)."""
    materialize_features(end=end, repo_path=repo_path)
