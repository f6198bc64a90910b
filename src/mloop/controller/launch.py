"""``python -m mloop.controller.launch EVENT_ID``: run the pipeline a trigger event asks for.

The controller starts this in a subprocess. The run's ``trigger`` field is ``KIND:EVENT_ID`` and
the event gets the run id as soon as the run row exists, so both directions link. From its first
moment to its end the launcher renews the event's heartbeat (every ``MLOOP_LAUNCHER_HEARTBEAT_S``
seconds, 2 by default) from a background thread, so that any controller can tell a dead launcher
from a slow one (see :mod:`mloop.controller.daemon`).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from mloop.config import Settings
from mloop.metadata.base import MetadataStore
from mloop.metadata.controller_state import ControllerStateStore, EventState
from mloop.pipelines.dsl import Pipeline
from mloop.pipelines.hooks import RunHook

log = logging.getLogger("mloop.controller")


class _AttachRun(RunHook):
    def __init__(self, state: ControllerStateStore, event_id: str) -> None:
        self.state = state
        self.event_id = event_id

    def on_run_start(self, run: Any, graph: Any) -> None:
        self.state.attach_run(self.event_id, run.id)


class _TagRun(RunHook):
    """Tags the run with the deployment and package it runs (promotion counts these runs)."""

    def __init__(self, store: MetadataStore, tags: dict[str, str]) -> None:
        self.store = store
        self.tags = tags

    def on_run_start(self, run: Any, graph: Any) -> None:
        self.store.set_tags(run.id, self.tags)


class EventHeartbeat:
    """A daemon thread renewing ``event_id``'s heartbeat every ``interval_s`` seconds until
    :meth:`stop` (or until the event is no longer running)."""

    def __init__(self, state: ControllerStateStore, event_id: str, interval_s: float) -> None:
        self.state = state
        self.event_id = event_id
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mloop-heartbeat", daemon=True)

    def start(self) -> EventHeartbeat:
        self.state.set_launcher(self.event_id, socket.gethostname(), os.getpid())
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self.state.heartbeat_event(self.event_id):
                    return  # finished (or failed by a controller): nothing left to keep alive
            except Exception as exc:  # a database blip: try again at the next beat
                log.warning("heartbeat of event %s failed: %s", self.event_id, exc)


def heartbeat_interval() -> float:
    """Seconds between heartbeats: ``MLOOP_LAUNCHER_HEARTBEAT_S`` (set by the controller)."""
    from mloop.controller.daemon import HEARTBEAT_ENV, LAUNCHER_HEARTBEAT_S

    value = os.environ.get(HEARTBEAT_ENV)
    try:
        seconds = float(value) if value else LAUNCHER_HEARTBEAT_S
    except ValueError:
        seconds = LAUNCHER_HEARTBEAT_S
    return seconds if seconds > 0 else LAUNCHER_HEARTBEAT_S


def pipeline_reference(entrypoint: str, project_dir: Path) -> str:
    """``file.py:function`` made absolute against the project folder (module refs unchanged)."""
    path, sep, func = entrypoint.rpartition(":")
    if not sep or not path.endswith(".py") or Path(path).is_absolute():
        return entrypoint
    return f"{project_dir / path}:{func}"


def deployed_pipeline(
    store: MetadataStore, settings: Settings, name: str
) -> tuple[Pipeline, dict[str, object], dict[str, str]] | None:
    """The pipeline ``name`` as deployed in this environment (``mloop deploy``): imported from
    the active package, unpacked under ``.mloop/packages/<digest>`` and verified against the
    digest the deployment recorded (``IntegrityError`` when it differs), with the package's
    params and the run tags naming the deployment; None when nothing is deployed here (the
    project folder's code runs, as before)."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.errors import StoreError
    from mloop.pipelines.packaged import (
        DEPLOYMENT_TAG,
        PACKAGE_TAG,
        PIPELINE_TAG,
        load_packaged_pipeline,
    )

    try:
        deployments = store.deployments()
    except StoreError:  # a metadata backend without deployments: nothing can be deployed
        return None
    active = deployments.active_deployment(settings.environment, name)
    if active is None:
        return None
    package = deployments.get_package(active.package_id)
    target, manifest = load_packaged_pipeline(
        connect_artifacts(settings.artifact_root),
        package.uri,
        active.package_digest,
        settings.state_dir / "packages",
    )
    tags = {
        DEPLOYMENT_TAG: active.id,
        PACKAGE_TAG: active.package_digest,
        PIPELINE_TAG: name,
    }
    return target, dict(manifest.get("params") or {}), tags


def check_launch_resources(
    target: Pipeline, params: dict[str, object], settings: Settings, deployment: Any = None
) -> None:
    """The resources gate where the run happens: the steps' declared requests against this
    environment's declared capacity, else this machine's (``InsufficientResourcesError``),
    unless the deployment being run recorded an override of that gate (``--override-gate``)."""
    from mloop.pipelines.capacity import (
        capacity_applies,
        capacity_of,
        check_capacity,
        step_requests,
    )

    gates = (deployment.details.get("gates") if deployment is not None else None) or []
    if any(g.get("name") == "resources" and g.get("status") == "overridden" for g in gates):
        log.info("resources gate overridden by deployment %s", deployment.id)
        return
    if not capacity_applies(settings.resources, settings.runner):
        return
    graph = target.compile(**params)
    where = f"environment {settings.environment} (this machine: {socket.gethostname()})"
    check_capacity(step_requests(graph), capacity_of(settings.resources), where)


def main(event_id: str, settings: Settings | None = None) -> int:
    """Run the event's pipeline (project of ``settings``, default: found from the current
    directory); 0 if the run succeeded."""
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.pipelines.loading import load_pipeline

    settings = settings or load_settings()
    store = connect(settings.metadata_url)
    state = store.controller_state()
    event = state.get_event(event_id)
    beat = EventHeartbeat(state, event.id, heartbeat_interval()).start()
    try:
        hooks: list[RunHook] = [_AttachRun(state, event.id)]
        deployed = deployed_pipeline(store, settings, event.pipeline)
        deployment = None
        if deployed is not None:
            target, defaults, tags = deployed
            deployment = store.deployments().get_deployment(tags["mloop.deployment"])
            hooks.append(_TagRun(store, tags))
            log.info("running deployment %s of %s", tags["mloop.deployment"], event.pipeline)
        else:
            configured = settings.pipelines[event.pipeline]
            target = load_pipeline(pipeline_reference(configured.entrypoint, settings.project_dir))
            defaults = dict(configured.params)
        params = {**defaults, **dict(event.payload.get("params") or {})}
        check_launch_resources(target, params, settings, deployment)
        os.chdir(settings.project_dir)
        handle = target.run_with(
            params,
            settings=settings,
            trigger=f"{event.kind}:{event.id}",
            hooks=hooks,
        )
    except Exception as exc:
        beat.stop()
        state.finish_event(event.id, EventState.FAILED, error=f"{type(exc).__name__}: {exc}")
        print(f"run for trigger event {event.id} failed: {exc}", file=sys.stderr)
        return 1
    beat.stop()
    ok = handle.state.value == "succeeded"
    state.finish_event(event.id, EventState.SUCCEEDED if ok else EventState.FAILED)
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m mloop.controller.launch EVENT_ID", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
