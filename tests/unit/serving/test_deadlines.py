"""``deadline``: asyncio.timeout on 3.11+, the same behaviour on Python 3.10 (supported)."""

from __future__ import annotations

import asyncio

import pytest

from mloop.serving import deadlines


@pytest.fixture(params=["native", "fallback"])
def flavour(request, monkeypatch) -> str:
    if request.param == "fallback":
        monkeypatch.setattr(deadlines, "_NATIVE", None)
    return request.param


def test_a_slow_block_times_out_and_a_fast_one_does_not(flavour) -> None:
    async def main() -> tuple[str, str]:
        try:
            async with deadlines.deadline(0.05):
                await asyncio.sleep(5)
            slow = "finished"
        except TimeoutError:
            slow = "timed out"
        async with deadlines.deadline(5):
            await asyncio.sleep(0.01)
        async with deadlines.deadline(None):
            await asyncio.sleep(0.01)
        return slow, "finished"

    assert asyncio.run(main()) == ("timed out", "finished")


def test_an_outside_cancel_is_not_a_timeout(flavour) -> None:
    async def main() -> None:
        async def guarded() -> None:
            async with deadlines.deadline(5):
                await asyncio.sleep(5)

        task = asyncio.create_task(guarded())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
