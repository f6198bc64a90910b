"""Which model answers a request: the champion, a canary taking a share, a shadow watching.

A canary answers ``canary_percent`` percent of the requests (drawn at random per request); a
shadow sees a copy of every champion request after the champion has answered, and its answer
is only logged (route ``shadow``) and counted, never returned. Every prediction is logged and
counted with its model version and route, so the versions can be compared from the prediction
log and ``/metrics``. Traffic changes load the new challenger first and switch only once it is
ready, so a change never costs a request.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from mloop.serving.models.holder import ModelHolder

__all__ = ["Router", "TrafficState"]


@dataclass(frozen=True)
class TrafficState:
    """What the router does now: champion, canary (with its share in percent) and shadow."""

    champion: ModelHolder
    canary: ModelHolder | None = None
    canary_percent: float = 0.0
    shadow: ModelHolder | None = None

    def describe(self) -> dict[str, object]:
        def one(holder: ModelHolder | None) -> dict[str, object] | None:
            if holder is None:
                return None
            slot = holder._slot
            return {
                "uri": holder.uri,
                "ready": slot is not None,
                "model": slot.model.name if slot else None,
                "version": slot.model.version_label if slot else None,
            }

        return {
            "champion": one(self.champion),
            "canary": None
            if self.canary is None
            else {**(one(self.canary) or {}), "percent": self.canary_percent},
            "shadow": one(self.shadow),
        }


class Router:
    """Picks the holder for each request; ``state`` is replaced whole on a traffic change."""

    def __init__(self, champion: ModelHolder, *, rng: Callable[[], float] = random.random) -> None:
        self.state = TrafficState(champion)
        self._rng = rng

    @property
    def champion(self) -> ModelHolder:
        return self.state.champion

    def pick(self) -> tuple[ModelHolder, str]:
        """(holder, route) for one request; a canary not loaded yet gets no traffic."""
        state = self.state
        canary = state.canary
        if canary is not None and canary.ready and state.canary_percent > 0:
            if self._rng() * 100.0 < state.canary_percent:
                return canary, "canary"
        return state.champion, "champion"

    @property
    def shadow(self) -> ModelHolder | None:
        shadow = self.state.shadow
        return shadow if shadow is not None and shadow.ready else None

    def replace(
        self,
        *,
        canary: ModelHolder | None,
        canary_percent: float,
        shadow: ModelHolder | None,
    ) -> TrafficState:
        """Switch to new challengers (already loaded); returns the previous state."""
        old = self.state
        self.state = TrafficState(old.champion, canary, canary_percent, shadow)
        return old
