"""Checks (e) and (f) of ``mloop ci``, read from the metadata of a smoke run:

- **declared artifacts**: every step of the graph has a successful execution whose OUTPUT
  events carry each output the step declares, and each of those artifacts is in the artifact
  store;
- **integration**: for every wiring ``consumer.arg <- producer.output`` of the graph, the
  artifact the consumer's execution recorded as its INPUT ``arg`` is the very artifact the
  producer's execution recorded as OUTPUT ``output`` (not a stale or cached look-alike).

Both take the recorded facts as plain mappings (:class:`RecordedRun`), so that they are pure
and can be tested on hand-made records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import EventKind

__all__ = ["RecordedRun", "check_declared_outputs", "check_integration", "recorded_run"]


@dataclass(frozen=True)
class RecordedRun:
    """The facts of one run, per step name (its newest execution): ``states`` (execution
    state), ``outputs`` and ``inputs`` (event name -> artifact id), ``uris`` (artifact id ->
    uri)."""

    states: Mapping[str, str]
    outputs: Mapping[str, Mapping[str, str]]
    inputs: Mapping[str, Mapping[str, str]]
    uris: Mapping[str, str] = field(default_factory=dict)


def recorded_run(store: MetadataStore, run_id: str) -> RecordedRun:
    """Read a run's executions and events from ``store`` (newest execution of each step)."""
    latest = {ex.step_name: ex for ex in store.list_executions(run_id)}
    outputs: dict[str, dict[str, str]] = {}
    inputs: dict[str, dict[str, str]] = {}
    uris: dict[str, str] = {}
    for name, ex in latest.items():
        outs, ins = outputs.setdefault(name, {}), inputs.setdefault(name, {})
        for event in store.list_events(execution_id=ex.id):
            (outs if event.kind is EventKind.OUTPUT else ins)[event.name] = event.artifact_id
            if event.kind is EventKind.OUTPUT:
                uris[event.artifact_id] = store.get_artifact(event.artifact_id).uri
    return RecordedRun(
        states={n: str(getattr(e.state, "value", e.state)) for n, e in latest.items()},
        outputs=outputs,
        inputs=inputs,
        uris=uris,
    )


def check_declared_outputs(
    spec: Mapping[str, Any], run: RecordedRun, exists: Callable[[str], bool]
) -> list[str]:
    """Problems (one line each; empty: the check passes) with the declared outputs of the
    steps of ``spec`` (a graph spec: ``{"steps": {name: {"outputs": [...]}}}``)."""
    problems = []
    for name, step in spec["steps"].items():
        state = run.states.get(name)
        if state is None:
            problems.append(f"step {name!r} never ran")
            continue
        if state not in ("succeeded", "cached"):
            problems.append(f"step {name!r} ended {state}: it produced no outputs")
            continue
        recorded = run.outputs.get(name, {})
        for output in step.get("outputs", []):
            artifact = recorded.get(output)
            if artifact is None:
                problems.append(f"step {name!r} did not record its declared output {output!r}")
            elif artifact in run.uris and not exists(run.uris[artifact]):
                problems.append(
                    f"output {output!r} of step {name!r} is recorded but missing from the "
                    f"artifact store ({run.uris[artifact]})"
                )
    return problems


def check_integration(spec: Mapping[str, Any], run: RecordedRun) -> tuple[int, list[str]]:
    """``(wirings checked, problems)``: each consumer input must be its producer's output."""
    problems = []
    checked = 0
    for name, step in spec["steps"].items():
        if run.states.get(name) not in ("succeeded", "cached"):
            continue  # reported by the declared-outputs check
        for arg, (producer, output) in step.get("inputs", {}).items():
            checked += 1
            produced = run.outputs.get(producer, {}).get(output)
            consumed = run.inputs.get(name, {}).get(arg)
            if consumed is None:
                problems.append(f"step {name!r} recorded no input {arg!r} (from {producer})")
            elif produced is None:
                problems.append(f"{producer}.{output} recorded no output that {name} consumed")
            elif consumed != produced:
                problems.append(
                    f"step {name!r} consumed artifact {consumed} as {arg!r}, but "
                    f"{producer}.{output} produced {produced}"
                )
    return checked, problems
