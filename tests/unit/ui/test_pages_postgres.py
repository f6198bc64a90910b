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
