"""The resources CD gate: the CPU, memory and GPUs a package's steps declare
(``@step(resources=...)``) against what the target environment offers (``resources:`` in
``mloop.yaml``, else measured on this machine; see :mod:`mloop.pipelines.capacity`)."""

from __future__ import annotations

from mloop.cicd.environments import Environment
from mloop.cicd.gate_result import FAILED, PASSED, SKIPPED, GateResult
from mloop.errors import MloopError
from mloop.metadata.deployments import PipelinePackage
from mloop.pipelines.capacity import (
    capacity_applies,
    capacity_of,
    describe,
    shortfalls,
    step_requests,
)

__all__ = ["check_resources"]


def check_resources(target: Environment, package: PipelinePackage) -> GateResult:
    """Compile the package (its verified, unpacked code) and compare each step's request."""
    from mloop.pipelines.packaged import load_packaged_pipeline

    if not capacity_applies(target.settings.resources, target.settings.runner):
        return GateResult(
            "resources",
            SKIPPED,
            f"{target.name} runs on a Ray cluster and declares no resources: the cluster "
            "decides (declare resources: in mloop.yaml to check here)",
        )
    try:
        pipeline, manifest = load_packaged_pipeline(
            target.artifacts, package.uri, package.digest, target.settings.state_dir / "packages"
        )
        graph = pipeline.compile(**dict(manifest.get("params") or {}))
    except MloopError as exc:
        return GateResult("resources", FAILED, f"the package's steps cannot be compiled: {exc}")
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
