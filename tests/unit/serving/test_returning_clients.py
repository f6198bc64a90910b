"""Batches wait for the clients just answered (closed-loop callers), never for a lone one."""

from __future__ import annotations

import asyncio

import numpy as np

from mloop.serving.batching import MicroBatcher
from mloop.serving.returning_clients import ReturningClients


def test_answered_clients_count_until_they_return_or_the_window_passes() -> None:
    clients = ReturningClients(window_s=0.010)
    clients.answered(("127.0.0.1", 1), now=1.000)
    clients.answered(("127.0.0.1", 2), now=1.004)
    assert clients.expected(now=1.005) == 2
    clients.arrived(("127.0.0.1", 1))  # its next request is here
    assert clients.expected(now=1.005) == 1
    assert clients.expected(now=1.0139) == 1
    assert clients.expected(now=1.0141) == 0  # client 2 did not come back within 10 ms
    clients.arrived(("127.0.0.1", 3))  # a client never answered before: nothing to forget
    assert clients.expected(now=2.0) == 0


def test_a_client_answered_again_moves_to_the_back_of_the_window() -> None:
    clients = ReturningClients(window_s=0.010)
    clients.answered("a", now=1.000)
    clients.answered("b", now=1.002)
    clients.arrived("a")
    clients.answered("a", now=1.008)
    assert clients.expected(now=1.0125) == 1  # b expired, a (answered at 1.008) still counts


def test_clients_that_never_come_back_are_forgotten_even_if_nobody_asks() -> None:
    """An unbatched service never asks how many are coming; a stream of one-request
    connections (no keep-alive) must not grow the map without bound."""
    clients = ReturningClients(window_s=0.010)
    for i in range(10_000):
        clients.answered(("127.0.0.1", i), now=i * 0.001)
    assert len(clients._answered) <= 11


class Recorder:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, columns: dict[str, np.ndarray], want_proba: bool):
        self.calls.append(len(columns["x"]))
        return columns["x"] * 2, None


def col(v: float) -> dict[str, np.ndarray]:
    return {"x": np.array([v])}


def test_a_batch_waits_for_expected_company_and_fires_when_it_has_come() -> None:
    model = Recorder()
    coming = {"n": 2}

    async def main() -> None:
        # max_wait is an hour: the batch can only be answered within the test's timeout if
        # it fired when the last expected request joined (no timing margin to be noisy)
        batcher = MicroBatcher(
            model, max_batch_rows=64, max_wait_s=3600.0, arriving=lambda: coming["n"]
        )

        async def late(v: float, delay: float):
            await asyncio.sleep(delay)
            coming["n"] -= 1
            return await batcher.submit(col(v), 1)

        first = batcher.submit(col(1.0), 1)
        both = asyncio.gather(first, late(2.0, 0.01), late(3.0, 0.02))
        results = await asyncio.wait_for(both, timeout=60)
        assert [r.predictions.tolist() for r in results] == [[2.0], [4.0], [6.0]]

    asyncio.run(main())
    assert model.calls == [3]  # one model call for all three


def test_a_batch_stops_waiting_after_max_wait_when_company_does_not_come() -> None:
    model = Recorder()

    async def main() -> float:
        batcher = MicroBatcher(model, max_batch_rows=64, max_wait_s=0.05, arriving=lambda: 5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(batcher.submit(col(1.0), 1), timeout=60)  # not forever
        return loop.time() - started

    waited = asyncio.run(main())
    assert model.calls == [1]
    assert waited >= 0.05 - 1e-3  # it did wait for the company it expected, up to max_wait
