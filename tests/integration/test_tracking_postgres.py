"""Tracking on PostgreSQL: runs written synchronously and written behind land the same."""

from __future__ import annotations

import pytest

import mloop
from mloop.metadata.entities import RunState
from mloop.metadata.sql.store import SqlMetadataStore


@pytest.mark.parametrize("async_logging", [False, True])
def test_runs_land_with_params_metrics_and_state(postgres_url: str, async_logging: bool) -> None:
    store = SqlMetadataStore.open(postgres_url)
    try:
        ids = []
        for i in range(50):
            with mloop.start_run("pg", store=store, async_logging=async_logging) as run:
                mloop.log_params({"i": i})
                mloop.log_metrics({"m": float(i)}, step=i)
                mloop.set_tags({"k": "v"})
            ids.append(run.id)
        mloop.flush()
        found = store.search_runs(experiment="pg", limit=100, include_data=True)
        assert sorted(r.id for r in found) == sorted(ids)
        assert all(r.state is RunState.SUCCEEDED and r.tags == {"k": "v"} for r in found)
        assert {r.params["i"]: r.metrics["m"] for r in found} == {
            str(i): float(i) for i in range(50)
        }
        assert all(r.ended_at is not None and r.ended_at >= r.started_at for r in found)
    finally:
        store.close()
