"""A run's DAG as boxes and edges with coordinates, for an inline SVG. Pure: no I/O.

Steps and edges come from the compiled pipeline spec (``pipelines.spec``: each step's
``inputs`` name an upstream step, ``after`` adds ordering edges); a run without a spec (a
tracking run, or a pipeline recorded before specs were kept) gets its edges from the events:
an artifact one execution wrote and another read. Each step sits in the column of its longest
path from a source, so edges always go left to right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mloop.metadata.entities import Event, EventKind, Execution

NODE_W, NODE_H = 150, 44  # px
GAP_X, GAP_Y, PAD = 60, 18, 12  # px


@dataclass(frozen=True)
class Node:
    name: str
    x: int
    y: int
    state: str
    seconds: float | None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    path: str  # SVG path data


@dataclass(frozen=True)
class Dag:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def edges_from_spec(spec: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    steps = spec.get("steps") or {}
    names = list(steps)
    edges: list[tuple[str, str, str]] = []
    for name, step in steps.items():
        for arg, ref in sorted((step.get("inputs") or {}).items()):
            if isinstance(ref, Sequence) and len(ref) == 2 and ref[0] in steps:
                edges.append((str(ref[0]), name, f"{ref[1]} → {arg}"))
        for up in step.get("after") or []:
            if up in steps:
                edges.append((str(up), name, "after"))
    return names, edges


def edges_from_events(
    executions: Sequence[Execution], events: Sequence[Event]
) -> tuple[list[str], list[tuple[str, str, str]]]:
    step_of = {e.id: e.step_name for e in executions}
    producer: dict[str, tuple[str, str]] = {}
    for ev in events:
        if ev.kind is EventKind.OUTPUT and ev.execution_id in step_of:
            producer[ev.artifact_id] = (step_of[ev.execution_id], ev.name)
    edges = []
    for ev in events:
        if ev.kind is EventKind.INPUT and ev.artifact_id in producer:
            source, output = producer[ev.artifact_id]
            target = step_of.get(ev.execution_id)
            if target is not None and target != source:
                edges.append((source, target, f"{output} → {ev.name}"))
    return list(dict.fromkeys(step_of.values())), edges


def build_dag(
    spec: Mapping[str, Any] | None,
    executions: Sequence[Execution],
    events: Sequence[Event],
) -> Dag:
    """The laid-out DAG of a run; steps of the spec that never ran are ``pending``."""
    if spec and spec.get("steps"):
        names, raw = edges_from_spec(spec)
    else:
        names, raw = edges_from_events(executions, events)
    latest = {e.step_name: e for e in executions}  # the newest execution of each step
    for e in executions:
        if e.step_name not in names and ".trial-" not in e.step_name:
            names.append(e.step_name)
    column: dict[str, int] = {}
    ups: dict[str, list[str]] = {n: [] for n in names}
    for source, target, _ in raw:
        ups.setdefault(target, []).append(source)
    for name in names:  # declaration order is topological
        column[name] = 1 + max((column.get(u, -1) for u in ups.get(name, [])), default=-1)
    rows_in: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for name in names:
        col = column[name]
        row = rows_in.get(col, 0)
        rows_in[col] = row + 1
        ex = latest.get(name)
        seconds = None
        if ex is not None and ex.started_at and ex.ended_at:
            seconds = (ex.ended_at - ex.started_at).total_seconds()
        nodes[name] = Node(
            name=name,
            x=PAD + col * (NODE_W + GAP_X),
            y=PAD + row * (NODE_H + GAP_Y),
            state=ex.state.value if ex is not None else "pending",
            seconds=seconds,
        )
    edges = []
    for source, target, label in dict.fromkeys(raw):
        a, b = nodes.get(source), nodes.get(target)
        if a is None or b is None:
            continue
        x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
        x2, y2 = b.x, b.y + NODE_H // 2
        mid = (x1 + x2) // 2
        edges.append(Edge(source, target, label, f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"))
    width = PAD * 2 + (max(column.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows_in.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return Dag(list(nodes.values()), edges, width, height)
