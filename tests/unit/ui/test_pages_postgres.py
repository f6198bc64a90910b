"""The same pages and query counts on PostgreSQL (the UI's SQL is written once for both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_pages_render_on_postgresql(project_dir: Path, postgres_url: str, seed: Any) -> None:
    from mloop.metadata.connect import disconnect_all

    project = seed.make_project(project_dir, metadata=postgres_url)
    try:
        ids = seed.runs(project.store, 4, model="churn")
        seed.operations(project.store, "churn", 3)
        client = project.client()
        for path in (
            "/runs",
            "/runs?sort=metric:auc&order=asc",
            "/runs?state=failed",
            "/experiments",
            "/reports",
            "/models",
            "/models/churn",
            "/deployments",
            "/monitoring",
            "/controller",
            f"/runs/{ids[0]}",
            f"/compare?run={ids[0]}&run={ids[1]}",
            f"/lineage/{ids[0]}",
        ):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:1000])
        ascending = client.get("/runs?sort=metric:auc&order=asc").text
        assert ascending.index(ids[0][:10]) < ascending.index(ids[3][:10])  # lowest auc first
    finally:
        disconnect_all()


def test_services_and_their_changes_on_postgresql(
    project_dir: Path, postgres_url: str, seed: Any
) -> None:
    from mloop.metadata.connect import disconnect_all
    from mloop.metadata.service_records import TrafficSnapshot

    project = seed.make_project(project_dir, metadata=postgres_url)
    try:
        uri = "models:/churn@production"
        for generation, percent in ((0, 0.0), (1, 15.0)):
            project.store.services().report(
                "pg-svc",
                model="churn",
                environment="prod",
                url="http://pg-svc:8080",
                host="h",
                pid=3,
                workers=2,
                model_uri=uri,
                traffic=TrafficSnapshot(
                    champion_uri=uri,
                    champion_version="1",
                    follows=uri,
                    canary_uri="models:/churn/2" if percent else None,
                    canary_version="2" if percent else None,
                    canary_percent=percent,
                    generation=generation,
                ),
                healthy=True,
                change=("traffic", "pg-user", "pg canary") if percent else None,
            )
        live = project.client().get("/deployments/live")
        assert live.status_code == 200, live.text[:1000]
        assert "15% → v2" in live.text and "pg canary" in live.text and "pg-user" in live.text
        assert [c.kind for c in project.store.services().changes()] == ["traffic", "start"]
    finally:
        disconnect_all()
