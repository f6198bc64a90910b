"""What a running step can know about itself: its run, execution, step name and log file."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mloop.errors import MloopError


@dataclass(frozen=True)
class StepContext:
    """Handed to running step code through :func:`get_step_context`."""

    run_id: str
    execution_id: str
    step_name: str
    attempt: int
    params: dict[str, Any]
    # The run's own stores and environment: what a step uses instead of looking the project's
    # default environment up again (``mloop run --env staging`` must log into staging).
    metadata: Any = None  # MetadataStore
    artifacts: Any = None  # ArtifactStore
    environment: str | None = None


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "mloop_step_context", default=None
)


def get_step_context() -> StepContext:
    """The context of the step running in this thread; raises outside a step."""
    ctx = _current.get()
    if ctx is None:
        raise MloopError("get_step_context() was called outside a running step")
    return ctx


@contextmanager
def step_context(ctx: StepContext) -> Iterator[StepContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
