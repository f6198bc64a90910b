"""The run list ordered by a metric gives exactly ``search_runs``' order (value, then id; NaN
and missing values last), page by page, with filters, in both directions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mloop.metadata.entities import Metric, RunState
from mloop.ui import run_queries


@pytest.fixture(params=["with NaN and missing values", "every run valued"])
def mixed_runs(ui_project: Any, monkeypatch: pytest.MonkeyPatch, request: Any) -> Any:
    """24 runs, 7 per page: page 1 walks the index forwards; of an unfiltered list, page 2 is
    sorted (the middle) and pages 3-4 walk it backwards when they lie among the valued runs."""
    monkeypatch.setattr(run_queries, "PAGE_SIZE", 7)
    monkeypatch.setattr(run_queries, "FAST_OFFSET", 7)
    monkeypatch.setattr(run_queries, "WALK_LIMIT", 5)
    store = ui_project.store
    values: list[float | None] = [0.5, 0.5, 0.1, math.nan, 0.9, None, 0.5, -1.0, math.inf]
    values += [None, 0.3, math.nan]
    if request.param == "every run valued":
        values = [0.2 if v is None or math.isnan(v) else v for v in values]
    for i, value in enumerate(values * 2):
        run = store.create_run("a" if i % 3 else "b")
        if value is not None:
            store.log_metrics(run.id, [Metric("auc", value), Metric("other", 1.0)])
        store.finish_run(run.id, RunState.SUCCEEDED if i % 2 else RunState.FAILED)
    return ui_project


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("experiment", [None, "a"])
@pytest.mark.parametrize("state", [None, RunState.FAILED])
def test_metric_order_matches_search_runs(
    mixed_runs: Any, descending: bool, experiment: str | None, state: RunState | None
) -> None:
    store = mixed_runs.store
    expected = [
        r.id
        for r in store.search_runs(
            experiment=experiment,
            states=[state] if state else None,
            order_by="metric:auc",
            descending=descending,
            limit=1000,
        )
    ]
    shown: list[str] = []
    with store.engine.connect() as conn:
        for page in range(1, 6):
            f = run_queries.RunFilter(
                experiment=experiment,
                state=state,
                order_by="metric:auc",
                descending=descending,
                page=page,
            )
            result = run_queries.run_page(conn, f)
            if page <= result.pages:
                shown += [r.id for r in result.runs]
    assert shown == expected
    assert len(shown) == result.total
