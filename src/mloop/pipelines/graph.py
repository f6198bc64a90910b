"""The compiled pipeline: steps, their inputs, parameters and ordering. Pure: no I/O.

A :class:`PipelineGraph` is what tracing a ``@pipeline`` body produces. It knows how to order
steps, find what is downstream of what, and give a stable spec whose digest is the pipeline's
version. Execution lives in ``runners/``; recording lives in the metadata store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mloop._utils.hashing import digest_json
from mloop.errors import PipelineDefinitionError


@dataclass(frozen=True)
class InputRef:
    """An input fed by output ``output`` of step ``step``."""

    step: str
    output: str


@dataclass
class StepNode:
    """One step invocation inside a pipeline.

    ``name`` is unique in the graph (a step called twice becomes ``train``, ``train_2``).
    ``inputs`` maps the function's argument names to upstream outputs; ``params`` holds the
    JSON-able literal arguments (defaults included); ``after`` lists extra ordering edges.
    """

    name: str
    step: Any  # the dsl.Step object; typed loosely to keep this module free of the DSL
    inputs: dict[str, InputRef] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)

    @property
    def upstream(self) -> set[str]:
        return {ref.step for ref in self.inputs.values()} | set(self.after)

    def spec(self) -> dict[str, Any]:
        return {
            "step": self.step.name,
            "code": self.step.code_digest,
            "inputs": {k: [v.step, v.output] for k, v in sorted(self.inputs.items())},
            "params": self.params,
            "after": sorted(self.after),
            "outputs": list(self.step.outputs),
        }


@dataclass
class PipelineGraph:
    """Steps in the order they were declared, which is always a valid topological order."""

    name: str
    params: dict[str, Any]
    nodes: dict[str, StepNode] = field(default_factory=dict)

    def add(self, node: StepNode) -> None:
        if node.name in self.nodes:
            raise PipelineDefinitionError(f"step name {node.name!r} is used twice in {self.name}")
        for up in node.upstream:
            if up not in self.nodes:
                raise PipelineDefinitionError(
                    f"step {node.name!r} depends on {up!r}, which is not an earlier step of "
                    f"pipeline {self.name!r}; call steps inside the pipeline body in order"
                )
        self.nodes[node.name] = node

    def unique_name(self, base: str) -> str:
        if base not in self.nodes:
            return base
        n = 2
        while f"{base}_{n}" in self.nodes:
            n += 1
        return f"{base}_{n}"

    @property
    def steps(self) -> list[StepNode]:
        """Steps in topological order (declaration order)."""
        return list(self.nodes.values())

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def downstream_of(self, names: set[str]) -> set[str]:
        """Every step that depends, directly or not, on any of ``names`` (excluding them)."""
        found: set[str] = set()
        for node in self.nodes.values():
            if node.upstream & (names | found):
                found.add(node.name)
        return found - names

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "steps": {n.name: n.spec() for n in self.nodes.values()},
        }

    @property
    def version(self) -> str:
        """Digest of the spec: changes when a step's code, wiring or parameters change."""
        return digest_json(self.spec())

    def validate(self) -> None:
        if not self.nodes:
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} has no steps: call @step functions in its body"
            )


def check_json_param(step: str, arg: str, value: Any) -> Any:
    """Literal step arguments become parameters, which must be JSON-able (they key the cache)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # a path parameter is kept as its string (JSON)
    if isinstance(value, (list, tuple)):
        return [check_json_param(step, arg, v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): check_json_param(step, arg, v) for k, v in value.items()}
    raise PipelineDefinitionError(
        f"argument {arg!r} of step {step!r} is a {type(value).__name__}; a literal step "
        "argument must be JSON-able (str, number, bool, None, list, dict). Pass other values "
        "as the output of another step."
    )
