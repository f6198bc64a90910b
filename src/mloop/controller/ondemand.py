"""On-demand triggers: ``mloop trigger PIPELINE --reason ...`` records a pending event.

The controller's next tick starts it (subject to the pipeline's concurrency and backoff); with
``--now`` the caller claims the event and runs it in the foreground instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mloop.config import Settings
from mloop.errors import ConfigError
from mloop.metadata.base import MetadataStore
from mloop.metadata.controller_state import EventState, TriggerEvent

ON_DEMAND = "on_demand"


def request_run(
    store: MetadataStore,
    settings: Settings,
    pipeline: str,
    *,
    reason: str,
    params: Mapping[str, Any] | None = None,
    kind: str = ON_DEMAND,
    payload: Mapping[str, Any] | None = None,
) -> TriggerEvent:
    """A pending trigger event for ``pipeline`` (a name from ``mloop.yaml``)."""
    if pipeline not in settings.pipelines:
        known = ", ".join(sorted(settings.pipelines)) or "none"
        raise ConfigError(
            f"no pipeline {pipeline!r} in {settings.project_dir / 'mloop.yaml'} (known: {known}); "
            "add it under `pipelines:` with an `entrypoint`"
        )
    if not reason or not reason.strip():
        raise ConfigError("a trigger needs a reason: --reason 'why this run is wanted'")
    body = {**dict(payload or {}), "params": dict(params or {})}
    return store.controller_state().record_event(pipeline, kind, reason.strip(), body)


def run_now(
    store: MetadataStore, settings: Settings, event: TriggerEvent, *, holder: str = "cli"
) -> TriggerEvent:
    """Claim ``event`` and run it in this process; the finished event (with its run id)."""
    from mloop.controller.launch import main

    state = store.controller_state()
    if not state.claim_event(event.id, holder):
        return state.get_event(event.id)  # a controller took it first: it runs there
    main(event.id, settings)
    finished = state.get_event(event.id)
    if finished.state is EventState.RUNNING:
        state.finish_event(event.id, EventState.FAILED, error="the run ended without a state")
        finished = state.get_event(event.id)
    return finished
