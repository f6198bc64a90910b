"""The model a route serves, replaced without dropping a request.

A :class:`ModelHolder` owns one :class:`Slot` (a loaded model and its batcher) at a time.
Loading happens in a worker thread; when it has succeeded, the holder swaps the slot in one
assignment, so a request sees either the old model or the new one, never neither. Requests
already inside the old slot's batcher finish there. When the URI names an alias
(``models:/name@alias``), the holder polls the registry and reloads when the alias moves; an
admin call reloads at once (the same path serves a rollback). An admin reload of an explicit
URI sets ``pinned``: the alias is then not followed until the admin asks for it again.

A first load that fails is reported to ``on_first_failure`` when one is set (the service then
stops: a model that cannot be found or loaded at start will not appear by waiting); without
one it is logged and the holder keeps following its alias.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mloop.errors import ModelNotReadyError
from mloop.serving.batching import MicroBatcher
from mloop.serving.models.source import ServedModel

__all__ = ["ModelHolder", "Slot"]

log = logging.getLogger("mloop.serving")


@dataclass(frozen=True)
class Slot:
    """A loaded model and the batcher that feeds it."""

    model: ServedModel
    batcher: MicroBatcher


class ModelHolder:
    """Serves ``uri``; ``load(uri)`` loads a model (blocking, run in a thread),
    ``make_batcher(model)`` builds its batcher, ``resolve_version(uri)`` reads the version an
    alias points at now (None: not an alias). ``poll_interval_s`` 0 turns polling off."""

    def __init__(
        self,
        uri: str,
        *,
        load: Callable[[str], ServedModel],
        make_batcher: Callable[[ServedModel], MicroBatcher],
        resolve_version: Callable[[str], str | None] | None = None,
        poll_interval_s: float = 0.0,
        role: str = "champion",
    ) -> None:
        self.uri = uri
        self.role = role
        self._load = load
        self._make_batcher = make_batcher
        self._resolve_version = resolve_version
        self.poll_interval_s = poll_interval_s
        self._slot: Slot | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error: BaseException | None = None
        self.on_swap: Callable[[ServedModel | None, ServedModel], None] | None = None
        self.on_first_failure: Callable[[BaseException], None] | None = None
        self.pinned = False
        """True while an admin reload pinned an explicit URI: the alias is not followed."""

    @property
    def slot(self) -> Slot:
        """The current slot; ``ModelNotReadyError`` (503) until the first load succeeded."""
        slot = self._slot
        if slot is None:
            why = f": {self.last_error}" if self.last_error else ""
            raise ModelNotReadyError(
                f"the {self.role} model {self.uri} is not loaded yet{why}; retry shortly"
            )
        return slot

    @property
    def ready(self) -> bool:
        return self._slot is not None

    def start(self) -> None:
        """Load in the background, then follow the alias if the URI names one."""
        self._tasks.append(asyncio.create_task(self._first_load()))

    async def _first_load(self) -> None:
        try:
            await self.reload()
        except Exception as exc:  # kept in last_error; readiness stays false
            if self.on_first_failure is not None:
                self.on_first_failure(exc)
                return
            log.error("loading %s failed: %s", self.uri, exc)
        if self.poll_interval_s > 0 and self._resolve_version is not None:
            await self._follow()

    async def reload(self, uri: str | None = None) -> ServedModel:
        """Load ``uri`` (default: the holder's own URI, re-resolved) and swap it in."""
        async with self._lock:
            target = uri or self.uri
            try:
                model = await asyncio.to_thread(self._load, target)
            except Exception as exc:
                self.last_error = exc
                raise
            self.last_error = None
            self.uri = target
            old = self._slot.model if self._slot is not None else None
            self._slot = Slot(model, self._make_batcher(model))  # the atomic swap
            if self.on_swap is not None:
                self.on_swap(old, model)
            log.info("serving %s version %s (%s)", model.name, model.version, self.role)
            return model

    async def _follow(self) -> None:
        assert self._resolve_version is not None
        while True:
            await asyncio.sleep(self.poll_interval_s)
            if self.pinned:
                continue
            try:
                version = await asyncio.to_thread(self._resolve_version, self.uri)
                current = self._slot.model.version if self._slot is not None else None
                if version is not None and version != current:
                    log.info("%s moved to version %s; loading it", self.uri, version)
                    await self.reload()
            except Exception as exc:  # keep serving the current model; try again next poll
                self.last_error = exc
                log.warning("following %s failed: %s", self.uri, exc)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
