"""No N+1 queries: the number of SQL statements a page costs does not grow with the rows it
shows (counted with a ``before_cursor_execute`` listener on the store's engine)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def queries(project: Any, path: str) -> int:
    """Statements of one request, with nothing cached (the drop-down lists are read too)."""
    project.app.state.ui.forget_cached()
    client = project.client()
    with counting(project.store.engine) as statements:
        response = client.get(path)
    assert response.status_code == 200, response.text[:1000]
    return len(statements)


LIST_PAGES = [
    "/runs",
    "/runs?sort=metric:auc",
    "/runs?experiment=exp&state=succeeded",
    "/experiments",
    "/reports",
    "/models",
    "/models/churn",
    "/deployments",
    "/deployments/live",
    "/monitoring",
    "/controller",
]


def test_list_pages_cost_no_more_queries_for_60_rows_than_for_3(ui_project: Any, seed: Any) -> None:
    seed.runs(ui_project.store, 3, model="churn")
    seed.operations(ui_project.store, "churn", 3)
    few = {path: queries(ui_project, path) for path in LIST_PAGES}
    seed.runs(ui_project.store, 57, model="churn")
    seed.runs(ui_project.store, 5, experiment="other", model="fraud")
    seed.operations(ui_project.store, "churn", 40)
    many = {path: queries(ui_project, path) for path in LIST_PAGES}
    grown = {path: (few[path], many[path]) for path in LIST_PAGES if many[path] > few[path]}
    assert not grown, f"statements per page grew with the rows shown: {grown}"
    assert max(many.values()) <= 12


@pytest.mark.parametrize("n", [2, 8])
def test_compare_costs_the_same_queries_for_2_or_8_runs(ui_project: Any, seed: Any, n: int) -> None:
    ids = seed.runs(ui_project.store, 8)
    path = "/compare?" + "&".join(f"run={rid}" for rid in ids[:n])
    assert queries(ui_project, path) == queries(ui_project, f"/compare?run={ids[0]}&run={ids[1]}")


def test_the_run_page_costs_the_same_queries_for_2_or_12_steps(ui_project: Any, seed: Any) -> None:
    from mloop.metadata.entities import ExecutionState, RunState

    (small,) = seed.runs(ui_project.store, 1)
    store = ui_project.store
    big = store.create_run("exp", pipeline_name="training", pipeline_version="v1")
    for i in range(12):
        ex = store.create_execution(big.id, f"step{i}")
        store.finish_execution(ex.id, ExecutionState.SUCCEEDED)
    store.finish_run(big.id, RunState.SUCCEEDED)
    assert queries(ui_project, f"/runs/{big.id}") == queries(ui_project, f"/runs/{small}")


def _services_and_approvals(store: Any, first: int, n: int) -> None:
    """``n`` running services (each with a canary change) and ``n`` pending deployments."""
    from mloop.metadata.service_records import TrafficSnapshot

    rows = store.deployments()
    for i in range(first, first + n):
        uri = "models:/churn@production"
        for generation, canary in ((0, None), (1, "models:/churn/1")):
            store.services().report(
                f"svc{i}",
                model="churn",
                environment="prod",
                url=f"http://h{i}:8080",
                host="h",
                pid=i,
                workers=1,
                model_uri=uri,
                traffic=TrafficSnapshot(
                    champion_uri=uri,
                    champion_version="2",
                    follows=uri,
                    canary_uri=canary,
                    canary_percent=10.0 if canary else 0.0,
                    generation=generation,
                ),
                healthy=True,
                change=("traffic", "t", "r") if canary else None,
            )
        package = rows.add_package(
            "training",
            digest=f"{i:064d}",
            uri=f"p/{i}",
            files_digest="f" * 64,
            graph_version="g",
            code_digest="c" * 64,
            manifest={},
        )
        rows.request_deployment("prod", package, requested_by="a", reason="r", approval="manual")


@pytest.mark.parametrize("path", ["/deployments", "/deployments/live"])
def test_the_deployments_page_costs_the_same_for_1_or_20_services(
    ui_project: Any, seed: Any, path: str
) -> None:
    seed.runs(ui_project.store, 2, model="churn")
    _services_and_approvals(ui_project.store, 0, 1)
    few = queries(ui_project, path)
    _services_and_approvals(ui_project.store, 1, 19)
    page = ui_project.client().get(path).text
    assert page.count('class="service"') == 20
    if path == "/deployments":
        assert page.count('class="approve"') == 20
    assert queries(ui_project, path) == few <= 12
