"""Running services in the metadata store: registration, heartbeats, traffic history, expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mloop.metadata.service_records import HIDE_AFTER_S, STALE_AFTER_S, TrafficSnapshot

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=timezone(timedelta(hours=-5)))  # aware, not UTC
BASE = TrafficSnapshot(
    champion_uri="models:/churn@production",
    champion_version="2",
    follows="models:/churn@production",
)


@pytest.fixture
def services(tmp_path: Any) -> Any:
    from mloop.metadata.sql.store import SqlMetadataStore

    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield store.services()
    store.close()


def report(services: Any, traffic: TrafficSnapshot, at: datetime, **kw: Any) -> Any:
    values = dict(
        model="churn",
        environment="prod",
        url="http://127.0.0.1:8080",
        host="h1",
        pid=42,
        workers=2,
        model_uri="models:/churn@production",
        traffic=traffic,
        healthy=True,
        now=at,
    )
    values.update(kw)
    return services.report("svc1", **values)


def test_the_first_report_registers_and_records_the_start(services: Any) -> None:
    change = report(services, BASE, T0)
    assert change is not None and change.kind == "start" and change.actor == "mloop serve"
    (svc,) = services.running(now=T0 + timedelta(seconds=1))
    assert svc.traffic == BASE and svc.workers == 2 and svc.url == "http://127.0.0.1:8080"
    assert svc.started_at == T0 and svc.started_at.tzinfo is not None
    assert not svc.stale(T0 + timedelta(seconds=STALE_AFTER_S - 1))
    assert svc.stale(T0 + timedelta(seconds=STALE_AFTER_S + 1))


def test_heartbeats_record_only_real_changes_with_who_and_why(services: Any) -> None:
    report(services, BASE, T0)
    assert report(services, BASE, T0 + timedelta(seconds=5)) is None  # nothing moved
    canary = replace(
        BASE, canary_uri="models:/churn/3", canary_version="3", canary_percent=10.0, generation=1
    )
    change = report(
        services, canary, T0 + timedelta(seconds=7), change=("traffic", "alice", "try v3")
    )
    assert change is not None and (change.kind, change.actor, change.reason) == (
        "traffic",
        "alice",
        "try v3",
    )
    # a lagging worker still on generation 0 refreshes the heartbeat, not the split
    assert report(services, BASE, T0 + timedelta(seconds=8)) is None
    (svc,) = services.running(now=T0 + timedelta(seconds=9))
    assert svc.traffic.canary_percent == 10.0 and svc.heartbeat_at == T0 + timedelta(seconds=8)
    assert svc.traffic_since == T0 + timedelta(seconds=7)
    moved = report(services, replace(canary, champion_version="4"), T0 + timedelta(seconds=10))
    assert moved is not None and moved.kind == "alias"  # the followed alias moved
    kinds = [c.kind for c in services.changes()]
    assert kinds == ["alias", "traffic", "start"]  # newest first


def test_a_stopped_or_long_dead_service_is_no_longer_listed(services: Any) -> None:
    report(services, BASE, T0)
    assert services.running(now=T0 + timedelta(seconds=HIDE_AFTER_S - 1))
    assert services.running(now=T0 + timedelta(seconds=HIDE_AFTER_S + 1)) == []
    assert services.stop("svc1", now=T0) and not services.stop("svc1")
    assert services.running(now=T0) == []
    assert services.get("svc1").stopped_at == T0
    report(services, BASE, T0 + timedelta(seconds=1))  # a worker still running re-opens it
    assert [s.id for s in services.running(now=T0 + timedelta(seconds=2))] == ["svc1"]
    assert services.get("nope") is None
