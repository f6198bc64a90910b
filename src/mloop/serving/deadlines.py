"""``deadline(seconds)``: ``asyncio.timeout`` where Python has it (3.11+), the same behaviour
on 3.10, which mloop supports: the block is cancelled after ``seconds`` and ``TimeoutError``
raised in its place (None: no deadline)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["deadline"]

_NATIVE = getattr(asyncio, "timeout", None)  # Python 3.11+


@contextlib.asynccontextmanager
async def deadline(seconds: float | None) -> AsyncIterator[None]:
    if _NATIVE is not None:
        async with _NATIVE(seconds):
            yield
        return
    task = asyncio.current_task()
    if seconds is None or task is None:
        yield
        return
    fired = False

    def fire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, fire)
    try:
        yield
    except asyncio.CancelledError:
        if fired:
            raise TimeoutError(f"deadline of {seconds} s passed") from None
        raise
    finally:
        handle.cancel()
