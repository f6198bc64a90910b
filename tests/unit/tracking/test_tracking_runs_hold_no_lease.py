"""A tracking run sends no heartbeats, so a pipeline launch's reaping of dead runs (60 s lease)
must not mark a user's long-running notebook run ABANDONED."""

from __future__ import annotations

from datetime import timedelta

import pytest

import mloop
from mloop._utils.clock import utc_now
from mloop.metadata import connect
from mloop.metadata.entities import RunState
from mloop.tracking import TrackingClient


@pytest.mark.parametrize("async_logging", [False, True])
def test_a_long_tracking_run_is_not_reaped(tmp_path, async_logging) -> None:
    store = connect(f"sqlite:///{tmp_path / 'm.db'}")
    with mloop.start_run("exp", store=store, async_logging=async_logging) as run:
        mloop.log_params({"a": 1})
        mloop.flush()
        an_hour_later = utc_now() + timedelta(hours=1)
        assert store.reap_abandoned(60, now=an_hour_later) == []
        assert store.get_run(run.id).state is RunState.RUNNING
    mloop.flush()
    assert store.get_run(run.id).state is RunState.SUCCEEDED


def test_a_client_run_is_not_reaped(tmp_path) -> None:
    store = connect(f"sqlite:///{tmp_path / 'm.db'}")
    run = TrackingClient(store).create_run("exp")
    assert store.reap_abandoned(60, now=utc_now() + timedelta(hours=1)) == []
    assert store.get_run(run.id).state is RunState.RUNNING
