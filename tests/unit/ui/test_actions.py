"""Actions need the admin token AND the CSRF token; without them 401/403 with a clear page,
and nothing changes. With both, a rollback, an alias move and a trigger land in the store."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest

TOKEN = "t0ken"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def registry_project(ui_project: Any, seed: Any) -> Any:
    seed.runs(ui_project.store, 3, model="churn")
    rows = ui_project.store.model_registry()
    rows.set_alias("churn", "production", 1, actor="t", reason="first")
    rows.set_alias("churn", "production", 2, actor="t", reason="better")
    return ui_project


def production(project: Any) -> int | None:
    return project.store.model_registry().get_alias("churn", "production")


def login(client: Any) -> str:
    token = csrf_of(client.get("/login").text)
    done = client.post(
        "/login", data={"token": TOKEN, "csrf_token": token, "next": "/models/churn"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/models/churn"
    return csrf_of(client.get("/models/churn").text)


ROLLBACK = "/models/churn/aliases/production/rollback"


def test_rollback_without_the_token_is_401_and_changes_nothing(registry_project: Any) -> None:
    client = registry_project.client()
    csrf = csrf_of(client.get("/models/churn").text)
    refused = client.post(ROLLBACK, data={"csrf_token": csrf, "reason": "bad"})
    assert refused.status_code == 401
    assert "needs the admin token" in refused.text and "Log in" in refused.text
    assert production(registry_project) == 2


def test_a_wrong_token_is_refused_at_login(registry_project: Any) -> None:
    client = registry_project.client()
    csrf = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"token": "guess", "csrf_token": csrf})
    assert wrong.status_code == 401 and "not the admin token" in wrong.text
    assert client.post(ROLLBACK, data={"csrf_token": csrf, "reason": "x"}).status_code == 401


def test_rollback_without_csrf_is_403_even_when_logged_in(registry_project: Any) -> None:
    client = registry_project.client()
    login(client)
    for form in ({"reason": "bad"}, {"reason": "bad", "csrf_token": "forged"}):
        refused = client.post(ROLLBACK, data=form)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert production(registry_project) == 2


def test_the_bearer_header_still_needs_csrf(registry_project: Any) -> None:
    client = registry_project.client()
    csrf = csrf_of(client.get("/models/churn").text)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(ROLLBACK, data={"reason": "x"}, headers=auth).status_code == 403
    done = client.post(ROLLBACK, data={"reason": "x", "csrf_token": csrf}, headers=auth)
    assert done.status_code == 303
    assert production(registry_project) == 1


def test_rollback_move_and_trigger_with_token_and_csrf(registry_project: Any) -> None:
    client = registry_project.client()
    csrf = login(client)
    done = client.post(ROLLBACK, data={"csrf_token": csrf, "reason": "v2 misbehaves"})
    assert done.status_code == 303 and "v2 -> v1" in unquote(done.headers["location"])
    assert production(registry_project) == 1
    history = registry_project.store.model_registry().alias_history("churn", "production")
    assert (history[-1].kind, history[-1].actor, history[-1].reason) == (
        "rollback",
        "mloop-ui",
        "v2 misbehaves",
    )
    moved = client.post(
        "/models/churn/aliases/production/move",
        data={"csrf_token": csrf, "version": "3", "reason": "try v3"},
    )
    assert moved.status_code == 303 and production(registry_project) == 3
    page = client.get("/models/churn").text
    assert "try v3" in page and "v2 misbehaves" in page
    missing_reason = client.post(ROLLBACK, data={"csrf_token": csrf, "reason": " "})
    assert missing_reason.status_code == 422 and "say why" in missing_reason.text
    trig = client.post("/pipelines/training/trigger", data={"csrf_token": csrf, "reason": "now"})
    assert trig.status_code == 303
    (event,) = registry_project.store.controller_state().list_events(pipeline="training")
    assert (event.kind, event.reason, event.state.value) == ("ui", "now", "pending")
    logout = client.post("/logout", data={"csrf_token": csrf})
    assert logout.status_code == 303
    assert client.post(ROLLBACK, data={"csrf_token": csrf, "reason": "x"}).status_code == 401


def test_without_an_admin_token_the_ui_is_read_only(project_dir: Any, seed: Any) -> None:
    project = seed.make_project(project_dir, admin_token=None)
    seed.runs(project.store, 2, model="churn")
    client = project.client()
    csrf = csrf_of(client.get("/controller").text)
    auth = {"Authorization": "Bearer anything"}
    refused = client.post(ROLLBACK, data={"csrf_token": csrf, "reason": "x"}, headers=auth)
    assert refused.status_code == 403
    assert "without an admin token" in refused.text
    assert "read-only" in client.get("/models").text


def test_the_admin_cookie_is_not_the_token(registry_project: Any) -> None:
    client = registry_project.client()
    login(client)
    assert TOKEN not in str(dict(client.cookies))
