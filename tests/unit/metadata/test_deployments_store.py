"""The deployment store on SQLite: packages, the one-active rule, compare-and-swap activation
(the contract checks of mloop.testing.deployment_contracts, and SQLite-only cases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.errors import DeploymentConflictError, ValidationError
from mloop.metadata.deployments import DeploymentState, DeploymentStore
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.deployment_contracts import (
    add,
    check_decision_details,
    check_packages,
    check_race,
)


@pytest.fixture
def rows(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        yield store.deployments()
    finally:
        store.close()


def test_packages_are_versioned_and_content_addressed(rows: DeploymentStore) -> None:
    check_packages(rows)


def test_two_activations_at_once_one_wins(rows: DeploymentStore) -> None:
    check_race(rows)


def test_decisions_add_their_details(rows: DeploymentStore) -> None:
    check_decision_details(rows)


def test_activation_supersedes_the_base_and_keeps_one_active(rows: DeploymentStore) -> None:
    a, b = add(rows, 1), add(rows, 2)
    first = rows.request_deployment("test", a, requested_by="x", reason="r", approval="auto")
    rows.activate(first.id, decided_by="x", reason="ok")
    second = rows.request_deployment("test", b, requested_by="y", reason="r2", approval="review")
    assert second.base_id == first.id and second.state is DeploymentState.PENDING_APPROVAL
    assert rows.active_deployment("test", "training").id == first.id  # type: ignore[union-attr]
    done = rows.activate(second.id, decided_by="z", reason="reviewed")
    assert (done.state, done.decided_by, done.decision_reason) == (
        DeploymentState.ACTIVE,
        "z",
        "reviewed",
    )
    old = rows.get_deployment(first.id)
    assert old.state is DeploymentState.SUPERSEDED and old.ended_at is not None
    assert old.ended_at.tzinfo is not None
    with pytest.raises(ValidationError, match="not pending"):
        rows.activate(second.id, decided_by="z", reason="twice")


def test_an_approval_after_another_deployment_won_is_a_conflict(rows: DeploymentStore) -> None:
    a, b = add(rows, 1), add(rows, 2)
    slow = rows.request_deployment("prod", a, requested_by="x", reason="r", approval="manual")
    fast = rows.request_deployment("prod", b, requested_by="y", reason="r", approval="manual")
    rows.activate(fast.id, decided_by="z", reason="quick")
    with pytest.raises(DeploymentConflictError, match=fast.id):
        rows.activate(slow.id, decided_by="z", reason="late")
    assert rows.get_deployment(slow.id).state is DeploymentState.REJECTED


def test_a_reason_is_required(rows: DeploymentStore) -> None:
    with pytest.raises(ValidationError, match="reason"):
        rows.request_deployment("t", add(rows, 1), requested_by="x", reason=" ", approval="auto")
