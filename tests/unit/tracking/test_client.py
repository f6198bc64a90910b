"""TrackingClient: the explicit API over one store."""

from __future__ import annotations

from pathlib import Path

from mloop.metadata.entities import Metric, RunState
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.tracking import TrackingClient


def test_client_round_trip(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    client = TrackingClient(store)
    good = client.create_run("exp", run_name="good", tags={"k": "v"})
    bad = client.create_run("exp", run_name="bad")
    client.log_params(good.id, {"depth": 3})
    client.log_batch(good.id, [Metric("auc", 0.6, 0), Metric("auc", 0.9, 1)])
    client.log_metric(bad.id, "auc", 0.5)
    client.set_tags(bad.id, {"note": "worse"})
    client.end_run(good.id)
    client.end_run(bad.id, RunState.FAILED)
    assert client.get_run(good.id[:20]).state is RunState.SUCCEEDED
    assert client.get_params(good.id) == {"depth": "3"}
    assert [m.value for m in client.get_metric_history(good.id, "auc")] == [0.6, 0.9]
    assert client.get_latest_metrics(good.id) == {"auc": 0.9}
    best = client.search_runs("exp", metric_filters=[("auc", ">", 0.55)], order_by="metric:auc")
    assert [r.name for r in best] == ["good"]
    assert [r.name for r in client.search_runs(states=[RunState.FAILED])] == ["bad"]
    assert client.get_run(bad.id).tags == {"note": "worse"}
    store.close()
