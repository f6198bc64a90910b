"""What a running component step is linked to in the metadata store: its run, its code digest,
the artifacts it consumed, and the project's stores. Components use this to record lineage
(a registered version points at its run, package artifact and training data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import EventKind

__all__ = ["StepLinks", "current_links", "project_registry", "step_environment"]


@dataclass(frozen=True)
class StepLinks:
    run_id: str | None
    execution_id: str | None
    store: MetadataStore | None

    def code_digest(self) -> str | None:
        if self.store is None or self.execution_id is None:
            return None
        return self.store.get_execution(self.execution_id).code_digest

    def input_artifact(self, name: str) -> str | None:
        """The id of the artifact this step received as input ``name``."""
        if self.store is None or self.execution_id is None:
            return None
        for event in self.store.list_events(execution_id=self.execution_id):
            if event.kind is EventKind.INPUT and event.name == name:
                return event.artifact_id
        return None

    def producer_inputs(self, artifact_id: str) -> dict[str, str]:
        """The inputs (name -> artifact id) of the execution that produced ``artifact_id``."""
        if self.store is None:
            return {}
        for event in self.store.list_events(artifact_id=artifact_id):
            if event.kind is EventKind.OUTPUT:
                return {
                    e.name: e.artifact_id
                    for e in self.store.list_events(execution_id=event.execution_id)
                    if e.kind is EventKind.INPUT
                }
        return {}


def current_links() -> StepLinks:
    """Links of the step running in this context (all None outside a pipeline step)."""
    from mloop.pipelines.context import get_step_context
    from mloop.tracking.fluent import active_run

    try:
        ctx = get_step_context()
    except Exception:  # outside a step: plain function use from a notebook or a test
        return StepLinks(None, None, None)
    store = ctx.metadata
    if store is None:
        run = active_run()
        store = None if run is None else run.store
    return StepLinks(ctx.run_id, ctx.execution_id, store)


def step_environment() -> str:
    """The environment of the running step's run (``mloop run --env``), else the project's."""
    from mloop.config import load_settings
    from mloop.pipelines.context import get_step_context

    try:
        environment = get_step_context().environment
    except Exception:
        environment = None
    return environment or load_settings().environment


def project_registry() -> Any:
    """The registry on the stores of the running step's run (else the project's default
    stores): never the default environment's artifacts for a run of another environment."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.pipelines.context import get_step_context
    from mloop.registry import ModelRegistry, default_registry

    links = current_links()
    if links.store is None:
        return default_registry()
    try:
        artifacts = get_step_context().artifacts
    except Exception:
        artifacts = None
    if artifacts is None:
        artifacts = connect_artifacts(load_settings().artifact_root)
    return ModelRegistry(links.store, artifacts)
