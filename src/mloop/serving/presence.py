"""A service announces itself in the metadata store: who it is, what it serves, every change.

The metadata store does not otherwise know that a service runs (ADR 0022 keeps the live split
in a per-run file), so the UI and ``mloop traffic`` users could not see it. Each worker of a
service started with an announce URL (``mloop serve`` gives its own) and a ``models:/`` URI
reports to the store of the project it serves from: once the champion is loaded (registering the
service), then every :data:`~mloop.metadata.service_records.HEARTBEAT_S` seconds, and right
after each admin change it took (with who and why). A store that cannot be reached never stops
serving: the report is logged and retried with the next heartbeat.
See docs/adr/0026-running-services-in-the-metadata-store.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from typing import Any

from mloop.metadata.service_records import HEARTBEAT_S, TrafficSnapshot
from mloop.serving.traffic.admin_state import DIR_ENV

__all__ = ["ServicePresence", "service_run_id", "traffic_snapshot"]

log = logging.getLogger("mloop.serving")

READY_WAIT_S = 600.0
"""Longest wait (s) for the champion to load before the service registers anyway."""


def service_run_id() -> str:
    """One id for every worker of this run: derived from the run's shared admin folder when
    there is one (``--workers N``), else new for this process."""
    folder = os.environ.get(DIR_ENV)
    if folder:
        return hashlib.sha256(f"{socket.gethostname()}:{folder}".encode()).hexdigest()[:32]
    return uuid.uuid4().hex


def traffic_snapshot(service: Any) -> TrafficSnapshot:
    """What ``service`` (a :class:`~mloop.serving.service.PredictionService`) serves now."""
    state = service.router.state

    def version(holder: Any) -> str | None:
        return holder.slot.model.version_label if holder is not None and holder.ready else None

    uri = service.config.model_uri
    return TrafficSnapshot(
        champion_uri=state.champion.uri,
        champion_version=version(state.champion),
        pinned=service.applied.champion_uri is not None,
        follows=uri if uri.startswith("models:/") and "@" in uri else None,
        canary_uri=state.canary.uri if state.canary is not None else None,
        canary_version=version(state.canary),
        canary_percent=float(state.canary_percent) if state.canary is not None else 0.0,
        shadow_uri=state.shadow.uri if state.shadow is not None else None,
        shadow_version=version(state.shadow),
        generation=int(service.applied.generation),
    )


def health_of(service: Any) -> tuple[bool, str | None]:
    """(healthy, why not): the champion is loaded and no worker failed the current change."""
    if service.fatal is not None:
        return False, str(service.fatal)
    if not service.router.champion.ready:
        return False, "the champion model is loading"
    generation = service.applied.generation
    failed = [
        f"worker {d['pid']}: {d['error']}"
        for d in service.admin.applied()
        if d.get("error") and d.get("generation") == generation
    ]
    if failed:
        return False, "; ".join(failed)
    return True, None


class ServicePresence:
    """Reports one worker of ``service`` to ``store`` (a SQL metadata store)."""

    def __init__(self, service: Any, store: Any, *, url: str, environment: str) -> None:
        self.service = service
        self.store = store
        self.url = url
        self.environment = environment
        self.id = service_run_id()
        self.host = socket.gethostname()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_service(cls, service: Any) -> ServicePresence | None:
        """The presence of ``service`` in its project's store, or None when it announces
        nothing (no URL, or not a ``models:/`` URI: a bare package is in no registry)."""
        config = service.config
        if not config.url or not config.model_uri.startswith("models:/"):
            return None
        from mloop.config import load_settings
        from mloop.metadata import connect

        settings = load_settings()
        store = connect(settings.metadata_url)
        if not hasattr(store, "services"):
            return None
        return cls(service, store.services(), url=config.url, environment=settings.environment)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_WAIT_S
        service = self.service
        while not service.router.champion.ready and service.fatal is None:
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        while True:
            await self.report()
            await asyncio.sleep(HEARTBEAT_S)

    async def report(self, change: tuple[str, str, str | None] | None = None) -> None:
        """Send what this worker serves now (``change``: kind, actor, reason of an admin
        change it just applied). Never raises: a failed report is logged."""
        service = self.service
        healthy, status = health_of(service)
        snapshot = traffic_snapshot(service)
        name = service.router.champion.slot.model.name if service.router.champion.ready else None
        try:
            await asyncio.to_thread(
                self.store.report,
                self.id,
                model=name or _model_of(service.config.model_uri),
                environment=self.environment,
                url=self.url,
                host=self.host,
                pid=os.getpid(),
                workers=service.admin.workers,
                model_uri=service.config.model_uri,
                traffic=snapshot,
                healthy=healthy,
                status=status,
                change=change,
            )
        except Exception as exc:  # the store is down or locked: serving goes on
            log.warning("reporting the service to the metadata store failed: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await asyncio.to_thread(self.store.stop, self.id)
        except Exception as exc:
            log.warning("marking the service stopped in the metadata store failed: %s", exc)


def _model_of(uri: str) -> str:
    rest = uri[len("models:/") :]
    return rest.split("@", 1)[0].split("/", 1)[0]
