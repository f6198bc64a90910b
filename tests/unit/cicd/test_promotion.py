"""Deploy, approve, promote and roll back through test -> staging -> prod (three SQLite stores),
and the controller running exactly the deployed package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package
from mloop.controller.ondemand import request_run, run_now
from mloop.errors import IntegrityError, NotFoundError, PromotionRefusedError
from mloop.metadata.deployments import DeploymentKind, DeploymentState
from mloop.pipelines.packaged import DEPLOYMENT_TAG, PACKAGE_TAG


def run_in(project: Path, env: str, reason: str = "test run") -> str:
    """Run the deployed pipeline once in ``env`` as the controller does; the run id."""
    target = open_environment(project, env)
    event = request_run(target.store, target.settings, "scoring", reason=reason)
    done = run_now(target.store, target.settings, event)
    assert done.state.value == "succeeded", done.error
    assert done.run_id is not None
    return done.run_id


def total_of(project: Path, env: str, run_id: str) -> int:
    target = open_environment(project, env)
    [ex] = [e for e in target.store.list_executions(run_id) if e.step_name == "transform"]
    [event] = [e for e in target.store.list_events(execution_id=ex.id) if e.kind.value == "output"]
    artifact = target.store.get_artifact(event.artifact_id)
    import json

    with target.artifacts.open_local(artifact.uri) as folder:
        return int(json.loads(next(folder.glob("*.json")).read_text())["total"])


def test_a_deploy_to_test_is_active_at_once_and_the_controller_runs_the_package(
    cicd_project: Path,
) -> None:
    test = open_environment(cicd_project, "test")
    package = build_package(test, "scoring", created_by="alice")
    result = promotion.deploy(cicd_project, "scoring", "test", reason="first", actor="alice")
    assert result.deployment.state is DeploymentState.ACTIVE
    assert (result.deployment.requested_by, result.deployment.reason) == ("alice", "first")
    assert result.package.digest == package.digest
    # the project folder changes after the build: the deployed package still runs the old code
    helper = cicd_project / "helpers" / "numbers.py"
    helper.write_text("def scale(value: int, factor: int) -> int:\n    return -1\n")
    run_id = run_in(cicd_project, "test")
    run = test.store.get_run(run_id)
    assert run.tags[PACKAGE_TAG] == package.digest
    assert run.tags[DEPLOYMENT_TAG] == result.deployment.id
    assert total_of(cicd_project, "test", run_id) == (0 + 1 + 2) * 2  # packaged params, code
    assert (cicd_project / ".mloop" / "packages" / package.digest / "code" / "helpers").is_dir()


def test_without_a_deployment_the_controller_runs_the_project_folder(cicd_project: Path) -> None:
    run_id = run_in(cicd_project, "test")
    test = open_environment(cicd_project, "test")
    assert PACKAGE_TAG not in test.store.get_run(run_id).tags
    assert total_of(cicd_project, "test", run_id) == 6


def test_a_tampered_package_is_refused(cicd_project: Path) -> None:
    test = open_environment(cicd_project, "test")
    package = build_package(test, "scoring")
    promotion.deploy(cicd_project, "scoring", "test", reason="first", actor="alice")
    run_in(cicd_project, "test")  # unpacks into the cache
    cached = cicd_project / ".mloop" / "packages" / package.digest / "code" / "helpers"
    (cached / "numbers.py").write_text("def scale(value, factor):\n    return 0\n")
    event = request_run(test.store, test.settings, "scoring", reason="after tampering")
    done = run_now(test.store, test.settings, event)
    assert done.state.value == "failed"
    assert "IntegrityError" in (done.error or "")
    from mloop.controller.launch import deployed_pipeline

    with pytest.raises(IntegrityError):
        deployed_pipeline(test.store, test.settings, "scoring")


def test_staging_waits_for_review_and_prod_for_runs_and_a_second_person(
    cicd_project: Path,
) -> None:
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="branch merged", actor="alice")
    staged = promotion.promote(
        cicd_project, "scoring", source="test", target="staging", reason="to staging", actor="al"
    )
    assert staged.deployment.state is DeploymentState.PENDING_APPROVAL
    assert staged.deployment.kind is DeploymentKind.PROMOTE
    staging = open_environment(cicd_project, "staging")
    assert staging.deployments.active_deployment("staging", "scoring") is None
    approved = promotion.approve(
        cicd_project, staged.deployment.id[:8], reason="looks fine", actor="al"
    )  # review: anyone, even who asked
    assert approved.deployment.state is DeploymentState.ACTIVE
    assert (approved.deployment.decided_by, approved.deployment.decision_reason) == (
        "al",
        "looks fine",
    )
    # prod: no runs in staging yet -> refused at once, saying how many are missing
    with pytest.raises(PromotionRefusedError, match=r"needs 2 succeeded runs .* has 0"):
        promotion.promote(
            cicd_project, "scoring", source="staging", target="prod", reason="ship", actor="al"
        )
    run_in(cicd_project, "staging")
    with pytest.raises(PromotionRefusedError, match="has 1"):
        promotion.promote(
            cicd_project, "scoring", source="staging", target="prod", reason="ship", actor="al"
        )
    run_in(cicd_project, "staging")
    asked = promotion.promote(
        cicd_project, "scoring", source="staging", target="prod", reason="ship", actor="al"
    )
    assert asked.deployment.state is DeploymentState.PENDING_APPROVAL
    with pytest.raises(PromotionRefusedError, match="someone other than al"):
        promotion.approve(cicd_project, asked.deployment.id, reason="self", actor="al")
    done = promotion.approve(cicd_project, asked.deployment.id, reason="signed off", actor="bo")
    assert done.deployment.state is DeploymentState.ACTIVE
    assert done.environment == "prod"
    prod = open_environment(cicd_project, "prod")
    assert prod.deployments.get_package(done.package.digest).version == 1  # version kept


def test_prod_refuses_a_package_that_skipped_staging(cicd_project: Path) -> None:
    test = open_environment(cicd_project, "test")
    package = build_package(test, "scoring")
    with pytest.raises(PromotionRefusedError, match="takes packages from staging"):
        promotion.deploy(
            cicd_project, "scoring", "prod", package=package.digest, source="test", reason="x"
        )
    with pytest.raises((PromotionRefusedError, NotFoundError)):
        promotion.deploy(cicd_project, "scoring", "prod", package=package.digest, reason="x")


def test_a_rejected_deployment_never_becomes_active(cicd_project: Path) -> None:
    build_package(open_environment(cicd_project, "test"), "scoring")
    promotion.deploy(cicd_project, "scoring", "test", reason="a", actor="a")
    staged = promotion.promote(
        cicd_project, "scoring", source="test", target="staging", reason="b", actor="a"
    )
    done = promotion.reject(cicd_project, staged.deployment.id, reason="not now", actor="r")
    assert done.deployment.state is DeploymentState.REJECTED
    with pytest.raises(PromotionRefusedError, match="rejected"):
        promotion.approve(cicd_project, staged.deployment.id, reason="late", actor="r")


def test_rollback_reactivates_the_previous_package(cicd_project: Path) -> None:
    test = open_environment(cicd_project, "test")
    first = build_package(test, "scoring")
    one = promotion.deploy(cicd_project, "scoring", "test", reason="v1", actor="a")
    (cicd_project / "helpers" / "numbers.py").write_text(
        "def scale(value: int, factor: int) -> int:\n    return value * factor * 10\n"
    )
    second = build_package(test, "scoring")
    assert (second.version, second.digest != first.digest) == (2, True)
    two = promotion.deploy(cicd_project, "scoring", "test", reason="v2", actor="a")
    assert two.package.digest == second.digest
    assert test.deployments.get_deployment(one.deployment.id).state is DeploymentState.SUPERSEDED
    back = promotion.rollback(cicd_project, "scoring", "test", reason="v2 is wrong", actor="o")
    assert back.deployment.kind is DeploymentKind.ROLLBACK
    assert back.deployment.package_digest == first.digest
    assert test.deployments.get_deployment(two.deployment.id).state is DeploymentState.ROLLED_BACK
    run_id = run_in(cicd_project, "test")
    assert test.store.get_run(run_id).tags[PACKAGE_TAG] == first.digest
    with pytest.raises(NotFoundError, match="no earlier deployment"):
        promotion.rollback(cicd_project, "scoring", "test", reason="again", actor="o")


def test_the_actor_defaults_to_mloop_user(cicd_project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLOOP_USER", "carol")
    build_package(open_environment(cicd_project, "test"), "scoring")
    result = promotion.deploy(cicd_project, "scoring", "test", reason="r")
    assert result.deployment.requested_by == "carol" == result.deployment.decided_by
    assert os.environ["MLOOP_USER"] == "carol"


def test_without_a_package_the_newest_build_is_deployed(cicd_project: Path) -> None:
    text = (cicd_project / "mloop.yaml").read_text()
    (cicd_project / "mloop.yaml").write_text(
        text.replace("environments:\n", "default_environment: dev\nenvironments:\n  dev: {}\n")
    )
    dev, test = open_environment(cicd_project, "dev"), open_environment(cicd_project, "test")
    old = build_package(dev, "scoring")
    (cicd_project / "helpers" / "numbers.py").write_text("def scale(v, f):\n    return v\n")
    new = build_package(test, "scoring")  # built in test itself, after the dev build
    result = promotion.deploy(cicd_project, "scoring", "test", reason="newest", actor="a")
    assert result.package.digest == new.digest != old.digest
    assert result.deployment.source_environment is None
    copied = promotion.deploy(
        cicd_project, "scoring", "test", package=old.digest, reason="from dev", actor="a"
    )
    assert copied.deployment.source_environment == "dev"
    assert test.deployments.get_package(old.digest).digest == old.digest
