"""Trigger events and leases in the SQL store: who wins a claim, when a lease changes hands."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mloop.errors import StoreError, ValidationError
from mloop.metadata import connect
from mloop.metadata.controller_state import EventState


@pytest.fixture
def state(tmp_path: Path):
    return connect(f"sqlite:///{tmp_path}/m.db").controller_state()


def test_an_event_is_claimed_once_and_linked_to_its_run(state) -> None:
    event = state.record_event("training", "on_demand", "because", {"params": {"a": 1}})
    assert event.state is EventState.PENDING
    assert state.claim_event(event.id, "one") and not state.claim_event(event.id, "two")
    state.attach_run(event.id, "run123")
    state.finish_event(event.id, EventState.SUCCEEDED)
    state.finish_event(event.id, EventState.FAILED, error="late")  # closed events stay closed
    got = state.get_event(event.id)
    assert (got.state, got.claimed_by, got.run_id, got.error) == (
        EventState.SUCCEEDED,
        "one",
        "run123",
        None,
    )
    assert got.payload == {"params": {"a": 1}} and got.ended_at >= got.started_at


def test_concurrent_claims_have_one_winner(state) -> None:
    event = state.record_event("training", "on_demand", "race")
    wins: list[str] = []
    barrier = threading.Barrier(4)

    def claim(name: str) -> None:
        barrier.wait()
        if state.claim_event(event.id, name):
            wins.append(name)

    threads = [threading.Thread(target=claim, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and state.get_event(event.id).claimed_by == wins[0]


def test_list_events_filters_and_orders_newest_first(state) -> None:
    a = state.record_event("training", "drift", "a")
    b = state.record_event("training", "schedule", "b", state=EventState.SKIPPED)
    c = state.record_event("scoring", "drift", "c")
    assert [e.id for e in state.list_events()] == [c.id, b.id, a.id]
    assert [e.id for e in state.list_events(pipeline="training", kind="drift")] == [a.id]
    assert [e.id for e in state.list_events(states=[EventState.SKIPPED])] == [b.id]
    assert state.get_event(b.id).ended_at is not None


def test_lease_is_exclusive_until_released_or_expired(state) -> None:
    assert state.acquire_lease("ctl", "a", 30)
    assert not state.acquire_lease("ctl", "b", 30)
    first = state.get_lease("ctl")
    assert state.acquire_lease("ctl", "a", 30)  # renewal keeps the acquisition time
    assert state.get_lease("ctl").acquired_at == first.acquired_at
    state.release_lease("ctl", "b")  # not b's to release
    assert not state.acquire_lease("ctl", "b", 30)
    state.release_lease("ctl", "a")
    assert state.acquire_lease("ctl", "b", 0.2)
    assert not state.acquire_lease("ctl", "a", 30)
    time.sleep(0.3)
    assert state.acquire_lease("ctl", "a", 30) and state.get_lease("ctl").holder == "a"


def test_bad_arguments_are_refused(state) -> None:
    with pytest.raises(ValidationError, match="positive"):
        state.acquire_lease("ctl", "a", 0)
    with pytest.raises(ValidationError, match="terminal"):
        state.finish_event("x", EventState.RUNNING)
    with pytest.raises(StoreError, match="no trigger event"):
        state.get_event("missing")
    assert state.get_lease("nobody") is None
