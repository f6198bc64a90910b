"""Lineage trees over the events graph: upstream, downstream, runs, cycles, depth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mloop.errors import ArtifactNotFoundError, ValidationError
from mloop.metadata.entities import ExecutionState, LineageNode
from mloop.metadata.lineage import lineage
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.testing.contracts import make_artifact


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    yield store
    store.close()


def _step(
    store: SqlMetadataStore, run_id: str, name: str, inputs: dict[str, str], outputs: list[str]
) -> list[str]:
    ex = store.create_execution(run_id, name, inputs=inputs)
    arts = [make_artifact(type=o) for o in outputs]
    store.finish_execution(
        ex.id,
        ExecutionState.SUCCEEDED,
        new_artifacts=arts,
        outputs={o: a.id for o, a in zip(outputs, arts, strict=True)},
    )
    return [a.id for a in arts]


def _walk(node: LineageNode) -> list[tuple[str, str]]:
    out = [(node.kind, node.label)]
    for child in node.children:
        out.extend(_walk(child))
    return out


def test_artifact_lineage_both_ways(store: SqlMetadataStore) -> None:
    train_run = store.create_run("exp", pipeline_name="training")
    [raw] = _step(store, train_run.id, "ingest", {}, ["Dataset"])
    [model] = _step(store, train_run.id, "train", {"data": raw}, ["Model"])
    serve_run = store.create_run("exp", pipeline_name="scoring")
    [scores] = _step(store, serve_run.id, "predict", {"model": model, "data": raw}, ["Predictions"])

    up = lineage(store, model, "upstream")
    assert _walk(up) == [
        ("artifact", "artifact Model runs/x/a"),
        ("execution", "produced by train"),
        ("artifact", "input data: Dataset"),
        ("execution", "produced by ingest"),
    ]
    down = lineage(store, model, "downstream")
    assert [n.id for n in (down, down.children[0], down.children[0].children[0])] == [
        model,
        store.list_events(artifact_id=scores)[0].execution_id,
        scores,
    ]
    both = lineage(store, model)
    assert [c.label for c in both.children] == ["produced by train", "consumed by predict"]
    raw_down = lineage(store, raw, "downstream")
    consumers = [c.label for c in raw_down.children]
    # predict is reached twice (via train's model, depth first, then directly): the second
    # time it is a leaf
    assert consumers == ["consumed by train", "consumed by predict (shown above)"]
    labels = [label for _, label in _walk(raw_down)]
    assert sum("(shown above)" in label for label in labels) == 1


def test_run_lineage_shows_steps_and_what_lies_beyond(store: SqlMetadataStore) -> None:
    first = store.create_run("exp")
    [raw] = _step(store, first.id, "ingest", {}, ["Dataset"])
    second = store.create_run("exp", name="train-run")
    [model] = _step(store, second.id, "train", {"data": raw}, ["Model"])
    _step(store, second.id, "evaluate", {"model": model}, ["Evaluation"])
    tree = lineage(store, second.id[:20])
    assert (tree.kind, tree.label, tree.state) == ("run", "run train-run", "running")
    assert [c.label for c in tree.children] == ["train", "evaluate"]
    train = tree.children[0]
    input_node, output_node = train.children
    assert input_node.label == "input data: Dataset"
    assert [c.label for c in input_node.children] == ["produced by ingest"]  # outside the run
    assert output_node.children == ()  # consumed by evaluate, a step shown as a sibling
    upstream_only = lineage(store, second.id, "upstream")
    assert all(c.label.startswith("input") for e in upstream_only.children for c in e.children)
    shallow = lineage(store, second.id, max_depth=1)
    assert all(c.children == () for c in shallow.children)


def test_cycles_terminate(store: SqlMetadataStore) -> None:
    run = store.create_run("exp")
    [a] = _step(store, run.id, "make", {}, ["Dataset"])
    [b] = _step(store, run.id, "loop1", {"x": a}, ["Dataset"])
    # an execution that consumes b and re-emits a as output: a -> loop1 -> b -> loop2 -> a
    ex = store.create_execution(run.id, "loop2", inputs={"x": b})
    store.finish_execution(ex.id, ExecutionState.SUCCEEDED, outputs={"again": a})
    tree = lineage(store, a, "downstream", max_depth=50)
    assert len(_walk(tree)) < 10
    assert "(shown above)" in _walk(tree)[-1][1]


def test_unknown_ref_and_bad_direction(store: SqlMetadataStore) -> None:
    with pytest.raises(ArtifactNotFoundError, match="no run, execution or artifact"):
        lineage(store, "nothing-here")
    with pytest.raises(ValidationError, match="direction"):
        lineage(store, "x", "sideways")  # type: ignore[arg-type]


def test_execution_as_root(store: SqlMetadataStore) -> None:
    run = store.create_run("exp")
    [raw] = _step(store, run.id, "ingest", {}, ["Dataset"])
    ex = store.create_execution(run.id, "train", inputs={"data": raw})
    tree = lineage(store, ex.id)
    assert (tree.kind, [c.label for c in tree.children]) == ("execution", ["input data: Dataset"])
