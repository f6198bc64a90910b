"""The CI/CD walk of ``mloop quickstart --example cicd`` with PostgreSQL as production: a
change from a branch reaches prod only through test, reviewed staging runs and a second
person's approval, and prod runs exactly that package."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.cicd.environments import open_environment
from mloop.demo.cicd import APPROVER, AUTHOR, REVIEWER, run_cicd_quickstart
from mloop.metadata.deployments import DeploymentState
from mloop.pipelines.packaged import PACKAGE_TAG

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_change_reaches_postgres_production_through_the_gates(
    project_dir: Path, postgres_url: str
) -> None:
    walk = run_cicd_quickstart(project_dir / "demo", prod_metadata=postgres_url)
    branch = walk.packages["branch"]
    assert branch != walk.packages["main"]
    prod = open_environment(walk.folder, "prod")
    assert prod.settings.metadata_url == postgres_url
    active = prod.deployments.active_deployment("prod", "training")
    assert active is not None and active.package_digest == branch
    assert (active.requested_by, active.decided_by) == (AUTHOR, APPROVER)
    assert active.decision_reason == "signed off for production"
    [prod_run] = walk.runs["prod"]
    assert prod.store.get_run(prod_run).tags[PACKAGE_TAG] == branch
    assert prod.store.get_run(prod_run).environment == "prod"
    staging = open_environment(walk.folder, "staging")
    staged = staging.deployments.active_deployment("staging", "training")
    assert staged is not None and staged.decided_by == REVIEWER
    assert len(walk.runs["staging"]) == 2
    results = [r["result"] for r in walk.rows]
    assert any("refused" in r for r in results)  # the author could not approve prod
    # each environment's push moved that environment's own alias, in its own registry
    assert walk.aliases == {"test": 1, "staging": 1, "prod": 1}
    assert prod.store.model_registry().get_alias("lending_club", "production") == 1
    assert staging.store.model_registry().get_alias("lending_club", "staging") == 1
    assert staging.store.model_registry().get_alias("lending_club", "production") is None
    every = prod.deployments.list_deployments(environment="prod")
    assert [d.state for d in every] == [DeploymentState.ACTIVE]
