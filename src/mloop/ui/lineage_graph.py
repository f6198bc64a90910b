"""A lineage tree (``mloop.metadata.lineage``) laid out as a left-to-right graph. Pure.

Each node sits in the column of its depth; leaves take successive rows and a parent is centred
on its children, so the drawing is a tidy tree with no crossing edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mloop.metadata.entities import LineageNode

NODE_W, NODE_H = 250, 46  # px
GAP_X, GAP_Y, PAD = 50, 12, 12  # px
MAX_NODES = 400
"""Nodes drawn at most; a larger tree is cut (the page says so)."""


@dataclass
class GraphNode:
    key: str
    kind: str
    id: str
    label: str
    state: str | None
    x: int = 0
    y: float = 0.0
    extra: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LineageGraph:
    nodes: list[GraphNode]
    edges: list[tuple[str, str, str]]  # (from key, to key, SVG path)
    width: int
    height: int
    truncated: bool


def layout(root: LineageNode, notes: Mapping[str, Sequence[str]] | None = None) -> LineageGraph:
    """Coordinates for every node of ``root``; ``notes`` adds lines under artifact ids
    (e.g. "registered as lending_club v2 @production")."""
    nodes: list[GraphNode] = []
    links: list[tuple[GraphNode, GraphNode]] = []
    next_row = [0]
    truncated = [False]

    def visit(node: LineageNode, depth: int) -> GraphNode:
        g = GraphNode(f"n{len(nodes)}", node.kind, node.id, node.label, node.state)
        g.x = PAD + depth * (NODE_W + GAP_X)
        g.extra = list((notes or {}).get(node.id, ()))
        nodes.append(g)
        kids = []
        for child in node.children:
            if len(nodes) >= MAX_NODES:
                truncated[0] = True
                break
            kids.append(visit(child, depth + 1))
        if kids:
            g.y = (kids[0].y + kids[-1].y) / 2
            links.extend((g, k) for k in kids)
        else:
            g.y = PAD + next_row[0] * (NODE_H + GAP_Y)
            next_row[0] += 1
        return g

    visit(root, 0)
    edges = []
    for a, b in links:
        x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
        x2, y2 = b.x, b.y + NODE_H / 2
        mid = (x1 + x2) / 2
        edges.append((a.key, b.key, f"M{x1},{y1:.0f} C{mid},{y1:.0f} {mid},{y2:.0f} {x2},{y2:.0f}"))
    width = PAD * 2 + max((n.x for n in nodes), default=0) + NODE_W
    height = int(PAD * 2 + max(1, next_row[0]) * (NODE_H + GAP_Y))
    return LineageGraph(nodes, edges, width, height, truncated[0])


def artifact_ids(root: LineageNode) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.kind == "artifact":
            out.append(node.id)
        stack.extend(node.children)
    return out
