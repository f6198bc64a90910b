"""Lineage: which executions made an artifact from which inputs, and what used it afterwards.

``lineage(store, ref)`` walks the events graph (execution --output--> artifact --input-->
execution) from a run, an execution or an artifact and returns a tree of
:class:`~mloop.metadata.entities.LineageNode`. It uses only the store's public queries. Labels
say how a node was reached ("produced by train", "input data: Dataset"); a node met a second
time is a leaf marked "(shown above)", so cycles and diamonds stay finite.

``file_reads(store, path)`` answers "which runs read this file": local files and folders that
steps read are recorded as ``File``/``Directory`` input artifacts whose uri is the ``file://``
URI of the path, one artifact per content version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from mloop.errors import (
    ArtifactNotFoundError,
    ExecutionNotFoundError,
    RunNotFoundError,
    ValidationError,
)
from mloop.metadata.base import COLLECTED_AT, MetadataStore
from mloop.metadata.entities import Artifact, EventKind, Execution, LineageNode, Run

Direction = Literal["both", "upstream", "downstream"]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REPEATED = " (shown above)"
_FILE_TYPES = ("File", "Directory")  # input artifacts of local paths (mloop.pipelines)


def lineage(
    store: MetadataStore,
    ref: str,
    direction: Direction = "both",
    max_depth: int = 10,
) -> LineageNode:
    """The lineage tree of ``ref``: a run id (or unique prefix), an execution id or an artifact id.

    ``upstream`` follows what the node was made from, ``downstream`` what was made from it,
    ``both`` does both from the root. ``max_depth`` bounds the number of edges from the root.

    Raises:
        ArtifactNotFoundError: if ``ref`` is none of a run, an execution or an artifact.
        ValidationError: on an unknown ``direction`` or an ambiguous run id prefix.
    """
    if direction not in ("both", "upstream", "downstream"):
        raise ValidationError(
            f"lineage direction {direction!r} is not one of 'both', 'upstream', 'downstream'"
        )
    walker = _Walker(store, max(0, max_depth))
    up, down = direction in ("both", "upstream"), direction in ("both", "downstream")
    try:
        return walker.run(store.get_run(ref), up=up, down=down)
    except RunNotFoundError:
        pass
    try:
        return walker.execution(store.get_execution(ref), "", 0, up=up, down=down)
    except ExecutionNotFoundError:
        pass
    try:
        artifact = store.get_artifact(ref)
    except ArtifactNotFoundError:
        raise ArtifactNotFoundError(
            ref, "no run, execution or artifact has this id; 'mloop runs list' shows run ids"
        ) from None
    return walker.artifact(artifact, "", 0, up=up, down=down)


@dataclass
class _Walker:
    store: MetadataStore
    max_depth: int
    seen: set[tuple[str, str]] = field(default_factory=set)
    run_executions: set[str] = field(default_factory=set)

    def run(self, run: Run, *, up: bool, down: bool) -> LineageNode:
        self.seen.add(("run", run.id))
        executions = self.store.list_executions(run.id) if self.max_depth > 0 else []
        self.run_executions = {e.id for e in executions}
        children = tuple(self.execution(e, "", 1, up=up, down=down) for e in executions)
        title = run.name or run.pipeline_name or run.experiment
        return LineageNode("run", run.id, f"run {title}", run.state.value, children)

    def execution(
        self, execution: Execution, how: str, depth: int, *, up: bool, down: bool
    ) -> LineageNode:
        label = f"{how}{execution.step_name}"
        key = ("execution", execution.id)
        if key in self.seen:
            return LineageNode("execution", execution.id, label + _REPEATED, execution.state.value)
        self.seen.add(key)
        children: list[LineageNode] = []
        if depth < self.max_depth:
            for event in self.store.list_events(execution_id=execution.id):
                wanted = up if event.kind is EventKind.INPUT else down
                if not wanted:
                    continue
                artifact = self.store.get_artifact(event.artifact_id)
                how_reached = f"{event.kind.value} {event.name}: "
                is_input = event.kind is EventKind.INPUT
                children.append(
                    self.artifact(artifact, how_reached, depth + 1, up=is_input, down=not is_input)
                )
        return LineageNode("execution", execution.id, label, execution.state.value, tuple(children))

    def artifact(
        self, artifact: Artifact, how: str, depth: int, *, up: bool, down: bool
    ) -> LineageNode:
        label = f"{how}{artifact.type}" if how else f"artifact {artifact.type} {artifact.uri}"
        key = ("artifact", artifact.id)
        if key in self.seen:
            return LineageNode("artifact", artifact.id, label + _REPEATED)
        self.seen.add(key)
        children: list[LineageNode] = []
        if depth < self.max_depth and (up or down):
            neighbours = []
            for event in self.store.list_events(artifact_id=artifact.id):
                produced = event.kind is EventKind.OUTPUT
                if (produced and not up) or (not produced and not down):
                    continue
                if event.execution_id in self.run_executions:
                    continue  # a step of the run being shown: it is a sibling, not a neighbour
                neighbours.append((produced, self.store.get_execution(event.execution_id)))
            # The producer first, then the consumers in the order they ran.
            neighbours.sort(key=lambda pe: (not pe[0], pe[1].started_at or _EPOCH, pe[1].id))
            for produced, execution in neighbours:
                how_reached = "produced by " if produced else "consumed by "
                children.append(
                    self.execution(
                        execution, how_reached, depth + 1, up=produced, down=not produced
                    )
                )
        state = "collected" if COLLECTED_AT in artifact.properties else None  # by mloop gc
        return LineageNode("artifact", artifact.id, label, state, tuple(children))


@dataclass(frozen=True)
class FileRead:
    """One execution that read a local file or folder (or a folder holding the file)."""

    run_id: str
    execution_id: str
    step_name: str
    state: str
    input_name: str  # the step argument (event name) that named the path
    artifact: Artifact  # the File/Directory input artifact: its digest is the content read
    started_at: datetime | None


def file_uris(path: str | Path) -> list[str]:
    """``file://`` URIs under which a read of ``path`` is recorded: its own, then its folders'
    (a step that read a folder read every file in it). Relative paths are made absolute
    against the current directory."""
    text = str(path)
    if text.startswith("file://"):
        text = unquote(urlparse(text).path)
    absolute = Path(os.path.normpath(Path.cwd() / Path(text).expanduser()))
    return [p.as_uri() for p in (absolute, *absolute.parents)]


def file_reads(store: MetadataStore, path: str | Path) -> list[FileRead]:
    """Every execution that read the file or folder ``path``, newest first: "which runs read
    this file". A folder counts when it contains ``path``."""
    uris = file_uris(path)
    own = uris[0]
    reads: list[FileRead] = []
    for artifact in store.find_artifacts(uris):
        if artifact.type not in _FILE_TYPES:
            continue
        if artifact.uri != own and artifact.type != "Directory":
            continue  # an ancestor recorded as a file: cannot hold ``path``
        for event in store.list_events(artifact_id=artifact.id):
            if event.kind is not EventKind.INPUT:
                continue
            execution = store.get_execution(event.execution_id)
            reads.append(
                FileRead(
                    run_id=execution.run_id,
                    execution_id=execution.id,
                    step_name=execution.step_name,
                    state=execution.state.value,
                    input_name=event.name,
                    artifact=artifact,
                    started_at=execution.started_at,
                )
            )
    reads.sort(key=lambda r: (r.started_at or _EPOCH, r.execution_id), reverse=True)
    return reads


def file_lineage(store: MetadataStore, path: str | Path) -> LineageNode:
    """A tree for ``mloop lineage PATH``: the file, each content version read (newest first),
    and under each version the runs and steps that read it.

    Raises:
        ArtifactNotFoundError: if no recorded execution read ``path``.
    """
    reads = file_reads(store, path)
    own = file_uris(path)[0]
    if not reads:
        raise ArtifactNotFoundError(
            str(path), "no recorded step read this file or a folder holding it"
        )
    versions: dict[str, list[FileRead]] = {}
    for read in reads:
        versions.setdefault(read.artifact.id, []).append(read)
    children = []
    for group in versions.values():
        artifact = group[0].artifact
        via = "" if artifact.uri == own else f" (folder {unquote(urlparse(artifact.uri).path)})"
        runs = tuple(
            LineageNode(
                "run",
                r.run_id,
                f"run, step {r.step_name} (argument {r.input_name})",
                r.state,
            )
            for r in group
        )
        label = f"{artifact.type} sha256:{artifact.digest[:12]}{via}, read {len(group)} time(s)"
        children.append(LineageNode("artifact", artifact.id, label, None, runs))
    return LineageNode("file", own, f"file {unquote(urlparse(own).path)}", None, tuple(children))
