"""The pure parts: time and number formatting, the DAG layout, the lineage layout, plot specs."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

from mloop.metadata.entities import (
    Event,
    EventKind,
    Execution,
    ExecutionState,
    LineageNode,
    Metric,
    Run,
    RunState,
)
from mloop.ui.context import format_number, format_seconds, format_time
from mloop.ui.dag import build_dag
from mloop.ui.lineage_graph import layout
from mloop.ui.plots import metric_history

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))


def test_times_are_shown_in_utc_and_never_wrap() -> None:
    assert str(format_time(T0)) == '<span class="nowrap">2026-03-01 10:00:00</span>'
    assert str(format_time(None)) == "—"


def test_numbers_and_durations() -> None:
    assert format_number(math.nan) == "NaN" and format_number(None) == "—"
    assert format_number(1.0) == "1" and format_number(0.123456) == "0.1235"
    assert format_number(math.inf) == "inf" and format_number(True) == "True"
    assert format_seconds(0.0412) == "41 ms" and format_seconds(3.25) == "3.2 s"
    assert format_seconds(600) == "10.0 min" and format_seconds(None) == "—"


def ex(
    name: str, state: ExecutionState = ExecutionState.SUCCEEDED, seconds: float = 1
) -> Execution:
    return Execution(
        id=f"id-{name}",
        run_id="r",
        step_name=name,
        state=state,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=seconds),
    )


def test_the_dag_follows_the_spec_columns_by_longest_path() -> None:
    spec = {
        "steps": {
            "a": {"inputs": {}},
            "b": {"inputs": {"x": ["a", "output"]}},
            "c": {"inputs": {"x": ["a", "output"], "y": ["b", "output"]}},
            "d": {"inputs": {}, "after": ["a"]},
        }
    }
    dag = build_dag(spec, [ex("a"), ex("b", ExecutionState.FAILED)], [])
    nodes = {n.name: n for n in dag.nodes}
    assert nodes["a"].x < nodes["b"].x < nodes["c"].x and nodes["d"].x == nodes["b"].x
    assert (nodes["b"].state, nodes["c"].state, nodes["a"].seconds) == ("failed", "pending", 1)
    assert {(e.source, e.target) for e in dag.edges} == {
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("a", "d"),
    }
    assert dag.width > nodes["c"].x and dag.height > 0


def test_without_a_spec_the_edges_come_from_the_events() -> None:
    events = [
        Event("id-load", "art1", EventKind.OUTPUT, "output"),
        Event("id-fit", "art1", EventKind.INPUT, "data"),
        Event("id-fit", "art0", EventKind.INPUT, "external"),  # made by no step of this run
    ]
    dag = build_dag(None, [ex("load"), ex("fit", ExecutionState.RUNNING)], events)
    assert [(e.source, e.target, e.label) for e in dag.edges] == [("load", "fit", "output → data")]
    assert [n.state for n in dag.nodes] == ["succeeded", "running"]


def test_an_empty_run_has_an_empty_dag() -> None:
    dag = build_dag(None, [], [])
    assert dag.nodes == [] and dag.edges == []


def test_lineage_layout_centres_parents_on_their_children() -> None:
    leaf = LineageNode("artifact", "a1", "output: Model")
    tree = LineageNode(
        "run",
        "r",
        "run x",
        "succeeded",
        (
            LineageNode("execution", "e1", "train", "succeeded", (leaf,)),
            LineageNode("execution", "e2", "push", "failed"),
        ),
    )
    graph = layout(tree, {"a1": ["m v1 @production"]})
    by_id = {n.id: n for n in graph.nodes}
    assert by_id["a1"].extra == ["m v1 @production"]
    assert by_id["r"].y == (by_id["e1"].y + by_id["e2"].y) / 2
    assert by_id["r"].x < by_id["e1"].x < by_id["a1"].x
    assert len(graph.edges) == 3 and not graph.truncated


def test_metric_plots_are_json_without_nan() -> None:
    run = Run("r1", "exp", RunState.SUCCEEDED, T0)
    other = Run("r2", "exp", RunState.SUCCEEDED, T0)
    history = {
        "r1": {
            "loss": [Metric("loss", math.nan, 0), Metric("loss", 0.5, 1)],
            "auc": [Metric("auc", 0.7)],
        },
        "r2": {"auc": [Metric("auc", math.inf)]},
    }
    figures = metric_history([run, other], history)
    text = json.dumps(figures, allow_nan=False)  # raises on NaN or infinity
    assert [f["id"] for f in figures] == ["metric-auc", "metric-loss"]
    assert figures[0]["data"][0]["type"] == "bar" and figures[1]["data"][0]["y"] == [None, 0.5]
    assert "NaN" not in text
    assert metric_history([run], {"r1": {"auc": [Metric("auc", 0.7)]}}) == []
