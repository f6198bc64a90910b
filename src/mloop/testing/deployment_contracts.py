"""Contract checks every ``DeploymentStore`` backend must pass (SQLite in tests/unit,
PostgreSQL in tests/integration): versioned content-addressed packages, and of two activations
at once exactly one wins while the other is recorded, never lost."""

from __future__ import annotations

import threading

import pytest

from mloop.errors import DeploymentConflictError, NotFoundError, ValidationError
from mloop.metadata.deployments import DeploymentState, DeploymentStore, PipelinePackage

__all__ = ["add", "check_decision_details", "check_packages", "check_race"]


def add(rows: DeploymentStore, n: int, pipeline: str = "training") -> PipelinePackage:
    return rows.add_package(
        pipeline,
        digest=f"{n:064d}",
        uri=f"packages/{pipeline}/{n}",
        files_digest="f" * 64,
        graph_version="g" * 64,
        code_digest="c" * 64,
        manifest={"n": n},
        created_by="tester",
    )


def check_packages(rows: DeploymentStore) -> None:
    a, b = add(rows, 1), add(rows, 2)
    assert (a.version, b.version) == (1, 2)
    assert add(rows, 1).id == a.id  # idempotent by digest
    assert rows.get_package("training:2").id == b.id
    assert rows.get_package(b.digest).id == b.id
    assert rows.get_package(a.id[:8]).id == a.id
    with pytest.raises(NotFoundError):
        rows.get_package("training:9")
    assert [p.version for p in rows.list_packages("training")] == [2, 1]


def check_race(rows: DeploymentStore, rounds: int = 6) -> None:
    """Two deployments of one (env, pipeline) requested against the same base and activated
    at the same moment, ``rounds`` times: exactly one wins each time, the other is recorded as
    rejected with the winner named, and at most one row is ever active."""
    packages = [add(rows, 100 + i) for i in range(2 * rounds)]
    for r in range(rounds):
        pair = [
            rows.request_deployment(
                "prod", packages[2 * r + i], requested_by=f"user{i}", reason="race", approval="auto"
            )
            for i in range(2)
        ]
        assert pair[0].base_id == pair[1].base_id
        barrier = threading.Barrier(2)
        outcome: dict[str, str] = {}

        def go(deployment_id: str, barrier: threading.Barrier, outcome: dict[str, str]) -> None:
            barrier.wait()
            try:
                rows.activate(deployment_id, decided_by="ci", reason="go")
                outcome[deployment_id] = "won"
            except DeploymentConflictError:
                outcome[deployment_id] = "lost"

        threads = [threading.Thread(target=go, args=(d.id, barrier, outcome)) for d in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcome.values()) == ["lost", "won"], outcome
        [winner] = [d for d, o in outcome.items() if o == "won"]
        [loser] = [d for d, o in outcome.items() if o == "lost"]
        lost = rows.get_deployment(loser)
        assert lost.state is DeploymentState.REJECTED
        assert winner in (lost.decision_reason or "")
        active = rows.list_deployments(
            environment="prod", pipeline="training", states=(DeploymentState.ACTIVE,)
        )
        assert [d.id for d in active] == [winner]
    every = rows.list_deployments(environment="prod", limit=1000)
    assert len(every) == 2 * rounds  # nothing lost
    states = [d.state for d in every]
    assert states.count(DeploymentState.ACTIVE) == 1
    assert states.count(DeploymentState.REJECTED) == rounds
    assert states.count(DeploymentState.SUPERSEDED) == rounds - 1


def check_decision_details(rows: DeploymentStore) -> None:
    """An activation or a rejection adds its ``details`` (the gates run at approval) to the
    request's, in the same transaction; a decision on a finished deployment changes nothing."""
    a, b = add(rows, 201), add(rows, 202)
    asked = {"gates": [{"name": "metrics", "status": "passed"}], "package_version": 1}
    seen = {"approval_gates": [{"name": "metrics", "status": "passed"}]}
    first = rows.request_deployment(
        "stage", a, requested_by="u", reason="r", approval="review", details=asked
    )
    done = rows.activate(first.id, decided_by="v", reason="ok", details=seen)
    assert done.details == {**asked, **seen}
    failed = {"approval_gates": [{"name": "metrics", "status": "failed"}]}
    second = rows.request_deployment(
        "stage", b, requested_by="u", reason="r", approval="review", details=asked
    )
    refused = rows.reject(second.id, decided_by="mloop gates", reason="gates", details=failed)
    assert refused.state is DeploymentState.REJECTED and refused.details == {**asked, **failed}
    with pytest.raises(ValidationError, match="not pending"):
        rows.reject(second.id, decided_by="x", reason="again", details={"x": 1})
    assert rows.get_deployment(second.id).details == {**asked, **failed}
    plain = rows.request_deployment("stage", b, requested_by="u", reason="r", approval="review")
    assert rows.reject(plain.id, decided_by="x", reason="no").details == {}
