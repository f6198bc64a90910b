"""The local files a step node reads, as fingerprinted input artifacts; and what they invalidate.

Used by the executor (cache key and input events of each execution), by ``launch`` before a run
starts (declared ``FileInput`` paths must exist) and on ``--resume`` (a succeeded step whose
input files changed since is run again, with everything downstream of it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mloop.errors import MloopError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, EventKind, Execution
from mloop.pipelines.file_inputs import file_paths
from mloop.pipelines.fingerprints import FILE_ARTIFACT_TYPES, Fingerprinter
from mloop.pipelines.graph import PipelineGraph, StepNode

UPSTREAM_SUFFIX = ":file"  # event name of a file named by an upstream output: "<arg>:file"
_MAX_VALUE_BYTES = 64 * 1024  # upstream Value artifacts larger than this are not looked into


def file_artifacts(
    node: StepNode,
    inputs: Mapping[str, Artifact],
    fingerprints: Fingerprinter,
    load: Callable[[Artifact], Any],
    loaded: dict[str, Any],
) -> dict[str, Artifact]:
    """Event name -> ``File``/``Directory`` artifact for each local path ``node`` reads.

    Parameters are looked at directly; an upstream output is loaded (into ``loaded``, so the
    executor does not load it twice) only when it is a small plain ``str`` or list value, or
    its argument is declared ``FileInput``. Paths are relative to the current directory.
    """
    step = node.step
    cwd = Path.cwd()
    declared: frozenset[str] = step.file_params
    detect = getattr(step, "detect_files", True)
    paths = file_paths(step.name, node.params, declared, cwd, detect=detect)
    for name, artifact in inputs.items():
        if name not in declared and not (detect and _may_name_paths(artifact)):
            continue
        if name not in loaded:
            loaded[name] = load(artifact)
        value = {name: loaded[name]}
        for event, path in file_paths(step.name, value, declared, cwd, detect=detect).items():
            paths[event + UPSTREAM_SUFFIX] = path
    return fingerprints.artifacts(paths) if paths else {}


def _may_name_paths(artifact: Artifact) -> bool:
    return (
        artifact.type == "Value"
        and artifact.properties.get("python_type") in ("str", "list", "tuple")
        and artifact.size <= _MAX_VALUE_BYTES
    )


def check_declared_inputs(graph: PipelineGraph) -> None:
    """Raise ``FileInputNotFoundError`` if a ``FileInput`` parameter names a missing path
    (checked before the run is recorded, so a typo never starts a run)."""
    cwd = Path.cwd()
    for node in graph:
        declared = node.step.file_params
        if declared:
            file_paths(
                node.step.name,
                {k: node.params[k] for k in declared & set(node.params)},
                declared,
                cwd,
            )


def recorded_files(metadata: MetadataStore, execution: Execution) -> dict[str, str]:
    """Event name -> content digest of the files an execution recorded as read."""
    found: dict[str, str] = {}
    for event in metadata.list_events(execution_id=execution.id):
        if event.kind is not EventKind.INPUT:
            continue
        artifact = metadata.get_artifact(event.artifact_id)
        if artifact.type in FILE_ARTIFACT_TYPES:
            found[event.name] = artifact.digest
    return found


def stale_on_resume(
    graph: PipelineGraph,
    done: Mapping[str, Mapping[str, Artifact]],
    executions: Mapping[str, Execution],
    metadata: MetadataStore,
    fingerprints: Fingerprinter,
    load: Callable[[Artifact], Any],
) -> set[str]:
    """Steps in ``done`` that must run again on resume: those whose input files now differ
    from what their execution read (``executions``: step -> its succeeded execution), and
    every step downstream of one of them."""
    stale: set[str] = set()
    for node in graph:  # topological order: upstream staleness is known first
        if node.name not in done:
            continue
        if node.upstream & stale:
            stale.add(node.name)
            continue
        inputs = {arg: done[ref.step][ref.output] for arg, ref in node.inputs.items()}
        try:
            now = file_artifacts(node, inputs, fingerprints, load, {})
        except (MloopError, OSError):  # a file vanished: let the step run again and report it
            stale.add(node.name)
            continue
        current = {name: a.digest for name, a in now.items()}
        if current != recorded_files(metadata, executions[node.name]):
            stale.add(node.name)
    return stale
