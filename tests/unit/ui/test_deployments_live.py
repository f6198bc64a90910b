"""The deployments page: running services and their live split, the traffic history, and the
Approve / Reject actions of pending deployments (the cicd policy decides, as ``mloop approve``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from mloop._utils.clock import utc_now
from mloop.metadata.service_records import STALE_AFTER_S, TrafficSnapshot

TOKEN = "t0ken"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def report_service(store: Any, sid: str, *, alias: str = "production", **traffic: Any) -> None:
    uri = f"models:/churn@{alias}"
    values: dict[str, Any] = {"champion_uri": uri, "champion_version": "2", "follows": uri}
    values.update(traffic)
    store.services().report(
        sid,
        model="churn",
        environment="prod",
        url=f"http://{sid}:8080",
        host="h",
        pid=7,
        workers=1,
        model_uri=uri,
        traffic=TrafficSnapshot(**values),
        healthy=True,
        now=traffic.pop("now", None) if "now" in traffic else None,
    )


def test_an_empty_store_renders_the_page_and_the_fragment(ui_project: Any) -> None:
    client = ui_project.client()
    page = client.get("/deployments")
    assert page.status_code == 200 and "no-traffic-changes" in page.text
    assert 'data-refresh="/deployments/live"' in page.text
    assert "pending-approvals" not in page.text
    live = client.get("/deployments/live")
    assert (
        live.status_code == 200 and "<html" not in live.text and "no-traffic-changes" in live.text
    )


def test_a_running_service_shows_its_split_under_its_environment(
    ui_project: Any, seed: Any
) -> None:
    seed.runs(ui_project.store, 2, model="churn")
    ui_project.store.model_registry().set_alias("churn", "production", 2, actor="t", reason="r")
    report_service(ui_project.store, "svc-a")
    report_service(
        ui_project.store,
        "svc-a",
        canary_uri="models:/churn/1",
        canary_version="1",
        canary_percent=20.0,
        shadow_uri="models:/churn/3",
        generation=1,
    )
    page = ui_project.client().get("/deployments")
    assert page.status_code == 200
    card = page.text.split('id="services-prod"', 1)[1].split("</table>", 1)[0]
    assert "http://svc-a:8080" in card and "80% → v2" in card and "20% → v1" in card
    assert "follows models:/churn@production" in card and "healthy" in card
    assert "models:/churn/3 (loading)" in card  # the shadow has not reported a version yet
    assert "80% → v2, 20% → v1 (canary)" in page.text  # the model line of the prod card
    history = page.text.split('id="traffic-history"', 1)[1]
    assert "observed" in history and "start" in history


def test_a_service_without_heartbeat_is_shown_stale(ui_project: Any, seed: Any) -> None:
    seed.runs(ui_project.store, 1, model="churn")
    old = utc_now() - timedelta(seconds=STALE_AFTER_S + 30)
    ui_project.store.services().report(
        "svc-old",
        model="churn",
        environment="dev",
        url=None,
        host="h",
        pid=1,
        workers=1,
        model_uri="models:/churn/1",
        traffic=TrafficSnapshot(champion_uri="models:/churn/1", champion_version="1"),
        healthy=True,
        now=old,
    )
    live = ui_project.client().get("/deployments/live").text
    assert "stale: no heartbeat for" in live
    assert 'id="services-dev"' in live  # a fixed version goes to the service's environment


# -- approve / reject ------------------------------------------------------------------------


TRAINING = """
from mloop import pipeline, step


@step
def ingest(n: int = 3) -> list:
    return list(range(n))


@pipeline
def training(n: int = 3):
    ingest(n)
"""


def pending(project: Any, *, env: str = "prod", by: str = "alice", approval: str = "manual") -> Any:
    """A pending deployment of a real package of the project's training pipeline (an approval
    runs the environment's CD gates on it)."""
    from mloop.cicd.environments import open_environment
    from mloop.cicd.packages import build_package

    (project.folder / "pipelines").mkdir(exist_ok=True)
    (project.folder / "pipelines" / "training.py").write_text(TRAINING.lstrip(), encoding="utf-8")
    package = build_package(open_environment(project.folder, env), "training", created_by=by)
    return project.store.deployments().request_deployment(
        env, package, requested_by=by, reason="new features", approval=approval
    )


def login(client: Any) -> str:
    csrf = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "/deployments"})
    assert done.status_code == 303
    return csrf_of(client.get("/deployments").text)


def state_of(project: Any, deployment_id: str) -> str:
    return project.store.deployments().get_deployment(deployment_id).state.value


def test_approve_needs_the_token_and_the_csrf_field(ui_project: Any) -> None:
    d = pending(ui_project)
    client = ui_project.client()
    page = client.get("/deployments").text
    assert f'id="pending-{d.id}"' in page and "Approve" in page and "Reject" in page
    form = {"csrf_token": csrf_of(page), "reason": "ok", "approver": "bob", "env": "prod"}
    refused = client.post(f"/deployments/{d.id}/approve", data=form)
    assert refused.status_code == 401 and "needs the admin token" in refused.text
    login(client)
    no_csrf = client.post(f"/deployments/{d.id}/approve", data={**form, "csrf_token": "x"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    assert state_of(ui_project, d.id) == "pending_approval"
    done = client.post(f"/deployments/{d.id}/approve", data={**form, "csrf_token": csrf_of(page)})
    assert done.status_code == 303, done.text
    assert state_of(ui_project, d.id) == "active"
    decided = ui_project.store.deployments().get_deployment(d.id)
    assert (decided.decided_by, decided.decision_reason) == ("bob", "ok")
    shown = client.get(done.headers["location"]).text
    assert "approved by bob: active" in shown and "pending-approvals" not in shown


def test_the_policy_refuses_what_mloop_approve_refuses(ui_project: Any) -> None:
    d = pending(ui_project, by="alice")
    client = ui_project.client()
    csrf = login(client)
    form = {"csrf_token": csrf, "reason": "looks fine", "approver": "alice", "env": "prod"}
    same = client.post(f"/deployments/{d.id}/approve", data=form)
    assert same.status_code == 422
    assert "someone other than alice" in same.text and "approval: manual" in same.text
    nobody = client.post(f"/deployments/{d.id}/approve", data={**form, "approver": " "})
    assert nobody.status_code == 422 and "say who decides" in nobody.text
    assert state_of(ui_project, d.id) == "pending_approval"
    rejected = client.post(f"/deployments/{d.id}/reject", data={**form, "reason": "not now"})
    assert rejected.status_code == 303 and state_of(ui_project, d.id) == "rejected"


def test_too_few_pre_production_runs_are_refused_with_the_policy_message(ui_project: Any) -> None:
    text = (ui_project.folder / "mloop.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "prod: {metadata:",
        "prod: {promotion: {from: dev, approval: review, min_successful_runs: 2}, metadata:",
    )
    (ui_project.folder / "mloop.yaml").write_text(text, encoding="utf-8")
    d = pending(ui_project, approval="review")
    rows = ui_project.store.deployments()
    in_dev = rows.request_deployment(
        "dev", rows.get_package(d.package_id), requested_by="ci", reason="r", approval="auto"
    )
    rows.activate(in_dev.id, decided_by="ci", reason="auto")
    client = ui_project.client()
    csrf = login(client)
    form = {"csrf_token": csrf, "reason": "ok", "approver": "bob", "env": "prod"}
    refused = client.post(f"/deployments/{d.id}/approve", data=form)
    assert refused.status_code == 422, refused.text[:500]
    assert "needs 2 succeeded runs" in refused.text and "dev has 0" in refused.text
    assert state_of(ui_project, d.id) == "pending_approval"


def test_a_gate_failing_at_approval_is_shown_and_the_deployment_rejected(
    ui_project: Any,
) -> None:
    """The prod gates run again at the click: a metrics target the package's runs never met."""
    d = pending(ui_project)
    text = (ui_project.folder / "mloop.yaml").read_text(encoding="utf-8")
    text = text.replace("prod: {metadata:", "prod: {gates: {metrics: {auc: '>= 0.9'}}, metadata:")
    (ui_project.folder / "mloop.yaml").write_text(text, encoding="utf-8")
    client = ui_project.client()
    csrf = login(client)
    form = {"csrf_token": csrf, "reason": "ok", "approver": "bob", "env": "prod"}
    refused = client.post(f"/deployments/{d.id}/approve", data=form)
    assert refused.status_code in (409, 422), refused.text[:500]
    assert "prod refused the deployment" in refused.text and "metrics" in refused.text
    assert state_of(ui_project, d.id) == "rejected"
    decided = ui_project.store.deployments().get_deployment(d.id)
    assert decided.decision_reason == "CD gates failed at approval: metrics"


@pytest.mark.parametrize("path", ["/deployments/x/approve", "/deployments/x/reject"])
def test_read_only_ui_refuses_decisions(project_dir: Any, seed: Any, path: str) -> None:
    from mloop.metadata.connect import disconnect_all

    project = seed.make_project(project_dir, admin_token=None)
    try:
        client = project.client()
        client.get("/deployments")
        csrf = client.cookies["mloop_csrf"]  # no form on the page: nothing is pending
        refused = client.post(path, data={"csrf_token": csrf, "reason": "r", "approver": "b"})
        assert refused.status_code == 403 and "actions are disabled" in refused.text
    finally:
        disconnect_all()
