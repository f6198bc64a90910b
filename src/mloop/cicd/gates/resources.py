"""The resources CD gate: the CPU, memory and GPUs a package's steps declare
(``@step(resources=...)``) against what the target environment offers (``resources:`` in
``mloop.yaml``, else measured on this machine; see :mod:`mloop.pipelines.capacity`)."""

from __future__ import annotations

from typing import Any

from mloop.cicd.environments import Environment
from mloop.cicd.gates.result import FAILED, PASSED, SKIPPED, GateResult
from mloop.metadata.deployments import PipelinePackage
from mloop.pipelines.capacity import (
    capacity_applies,
    capacity_of,
    describe,
    shortfalls,
    step_requests,
)

__all__ = ["check_resources", "compile_package"]


def compile_package(target: Environment, package: PipelinePackage) -> Any:
    """The package's graph, compiled from its verified, unpacked code with its params."""
    from mloop.pipelines.packaged import load_packaged_pipeline

    pipeline, manifest = load_packaged_pipeline(
        target.artifacts, package.uri, package.digest, target.settings.state_dir / "packages"
    )
    return pipeline.compile(**dict(manifest.get("params") or {}))


def check_resources(target: Environment, graph: Any) -> GateResult:
    """Compare each step's request of the compiled ``graph`` with the target's capacity."""
    if not capacity_applies(target.settings.resources, target.settings.runner):
        return GateResult(
            "resources",
            SKIPPED,
            f"{target.name} runs on a Ray cluster and declares no resources: the cluster "
            "decides (declare resources: in mloop.yaml to check here)",
        )
    requests = step_requests(graph)
    capacity = capacity_of(target.settings.resources)
    facts = {"capacity": capacity.as_dict(), "requests": describe(requests.items())}
    problems = shortfalls(requests, capacity)
    if problems:
        return GateResult(
            "resources",
            FAILED,
            f"{target.name} cannot hold the steps: " + "; ".join(problems) + ". Lower the "
            "step's resources=..., or declare what the environment really offers (resources: "
            "in mloop.yaml)",
            facts,
        )
    return GateResult(
        "resources", PASSED, f"{len(requests)} steps fit {target.name}'s capacity", facts
    )
