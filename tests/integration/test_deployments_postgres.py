"""Deployments on PostgreSQL: two deploys at once on one database, exactly one wins, nothing
lost (row locks plus the unique active slot), from threads and from separate processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mloop.metadata.deployments import DeploymentState
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.deployment_contracts import (
    add,
    check_decision_details,
    check_packages,
    check_race,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def rows(postgres_url):  # type: ignore[no-untyped-def]
    store = SqlMetadataStore.open(postgres_url)
    try:
        yield store.deployments()
    finally:
        store.close()


def test_packages_on_postgres(rows) -> None:  # type: ignore[no-untyped-def]
    check_packages(rows)


def test_two_deploys_at_once_from_threads_one_wins(rows) -> None:  # type: ignore[no-untyped-def]
    check_race(rows, rounds=8)


def test_decisions_add_their_details_on_postgres(rows) -> None:  # type: ignore[no-untyped-def]
    check_decision_details(rows)


def test_two_deploys_at_once_from_processes_one_wins(rows, postgres_url) -> None:  # type: ignore[no-untyped-def]
    a, b = add(rows, 1), add(rows, 2)
    pending = [
        rows.request_deployment("prod", p, requested_by="u", reason="race", approval="auto")
        for p in (a, b)
    ]
    script = textwrap.dedent(
        """
        import sys, time
        from mloop.errors import DeploymentConflictError
        from mloop.metadata.sql.store import SqlMetadataStore
        store = SqlMetadataStore.open(sys.argv[1]).deployments()
        start = float(sys.argv[3])
        while time.time() < start:
            time.sleep(0.001)
        try:
            store.activate(sys.argv[2], decided_by="proc", reason="go")
            print("won")
        except DeploymentConflictError:
            print("lost")
        """
    )
    import time

    start = str(time.time() + 3.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url, d.id, start],
            stdout=subprocess.PIPE,
            text=True,
        )
        for d in pending
    ]
    results = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(results) == ["lost", "won"], results
    states = sorted(rows.get_deployment(d.id).state.value for d in pending)
    assert states == [DeploymentState.ACTIVE.value, DeploymentState.REJECTED.value]
