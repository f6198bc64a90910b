"""search_runs returns params and latest metrics with every hit, in a fixed number of queries
whatever the number of hits, and says when a result was cut (issue 16.2)."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa

import mloop
from mloop.errors import ValidationError
from mloop.metadata import connect
from mloop.tracking import Metric, ResultTruncatedWarning, Run, RunState, TrackingClient


@pytest.fixture
def client(project_dir) -> TrackingClient:
    store = connect(f"sqlite:///{project_dir / 'm.db'}")
    for i in range(250):
        with mloop.start_run(experiment="many", store=store):
            mloop.log_params({"i": i, "kind": "even" if i % 2 == 0 else "odd"})
            mloop.log_metrics({"auc": i / 1000}, step=0)
            mloop.log_metrics({"auc": i / 250}, step=1)  # the latest value
    return TrackingClient(store)


def test_hits_carry_params_and_latest_metrics(client) -> None:
    page = client.search_runs("many", limit=10, order_by="metric:auc")
    assert isinstance(page[0], Run) and len(page) == 10
    assert page[0].params["i"] == "249" and page[0].params["kind"] == "odd"
    assert page[0].metrics == {"auc": pytest.approx(249 / 250)}


def test_queries_do_not_grow_with_the_hits(client) -> None:
    engine = client.store._engine
    counts = []
    for limit in (5, 200):
        seen: list[int] = []

        def listener(*args, seen=seen, **kwargs) -> None:
            seen.append(1)

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            page = client.search_runs("many", limit=limit)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        assert len(page) == limit and all(r.params for r in page)
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_a_cut_result_says_so_and_pages_through_everything(client) -> None:
    with pytest.warns(ResultTruncatedWarning, match="first 100 runs"):
        first = client.search_runs("many")
    assert len(first) == 100 and first.truncated
    seen = [r.id for r in first]
    token = first.next_page_token
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # following the token, or an explicit limit: no warning
        while token:
            page = client.search_runs("many", page_token=token)
            seen += [r.id for r in page]
            token = page.next_page_token
        explicit = client.search_runs("many", limit=300)
    assert len(seen) == len(set(seen)) == 250 and not explicit.truncated
    with pytest.raises(ValidationError, match="page_token"):
        client.search_runs("many", page_token="nope")


def test_top_level_search_and_entities_where_users_look(project_dir) -> None:
    with mloop.start_run(experiment="top"):
        mloop.log_params({"a": 1})
    (run,) = mloop.search_runs("top", states=["succeeded"])
    assert run.params == {"a": "1"} and run.state is RunState.SUCCEEDED
    assert Metric("m", 1.0).value == 1.0 and mloop.tracking.Run is Run


def test_runs_are_found_by_their_tags(project_dir, monkeypatch) -> None:
    """mloop.search_runs(tags=...) and `mloop runs list --tag`: every tag must match."""
    from typer.testing import CliRunner

    from mloop.cli.main import app

    monkeypatch.chdir(project_dir)
    for team, stage in (("risk", "prod"), ("risk", "dev"), ("growth", "prod")):
        with mloop.start_run(experiment="tagged", tags={"team": team, "stage": stage}):
            mloop.log_params({"team": team})
    page = mloop.search_runs("tagged", tags={"team": "risk", "stage": "prod"})
    assert [(r.tags["team"], r.tags["stage"]) for r in page] == [("risk", "prod")]
    assert page[0].params == {"team": "risk"}
    assert len(mloop.search_runs(tags={"team": "risk"})) == 2
    listed = CliRunner().invoke(
        app, ["runs", "list", "--tag", "stage=prod", "--tag", "team=growth", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    import json

    assert [r["tags"]["team"] for r in json.loads(listed.output)] == ["growth"]
    bad = CliRunner().invoke(app, ["runs", "list", "--tag", "stage"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output
