from __future__ import annotations

import asyncio

import numpy as np
import pytest

from mloop.serving.batching import MicroBatcher


class CountingModel:
    """Doubles its input; remembers the size of every call; refuses negative numbers."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, columns: dict[str, np.ndarray], want_proba: bool):
        x = columns["x"]
        self.calls.append(len(x))
        if (x < 0).any():
            raise ValueError("negative input")
        proba = np.stack([x, -x], axis=1) if want_proba else None
        return x * 2, proba


def cols(*values: float) -> dict[str, np.ndarray]:
    return {"x": np.asarray(values, dtype=float)}


def test_concurrent_requests_share_one_model_call_and_get_their_own_rows() -> None:
    model = CountingModel()

    async def main():
        batcher = MicroBatcher(model, max_batch_rows=64, max_wait_s=0.0)
        return await asyncio.gather(*(batcher.submit(cols(i, i + 0.5), 2) for i in range(10)))

    results = asyncio.run(main())
    assert model.calls == [20]
    for i, result in enumerate(results):
        assert result.predictions.tolist() == [2 * i, 2 * i + 1.0]
        assert result.batch_rows == 20


def test_batches_never_exceed_the_row_limit() -> None:
    model = CountingModel()

    async def main():
        batcher = MicroBatcher(model, max_batch_rows=5, max_wait_s=0.0)
        return await asyncio.gather(*(batcher.submit(cols(i, i), 2) for i in range(6)))

    results = asyncio.run(main())
    assert sum(model.calls) == 12 and max(model.calls) <= 5
    assert [r.predictions.tolist() for r in results] == [[2 * i, 2 * i] for i in range(6)]


def test_an_idle_service_does_not_wait_for_company() -> None:
    model = CountingModel()

    async def main():
        # max_wait is an hour: answered within the timeout only if it did not wait at all
        batcher = MicroBatcher(model, max_batch_rows=64, max_wait_s=3600.0)
        await asyncio.wait_for(batcher.submit(cols(1.0), 1), timeout=60)

    asyncio.run(main())
    assert model.calls == [1]


def test_a_bad_request_fails_alone() -> None:
    model = CountingModel()

    async def main():
        batcher = MicroBatcher(model, max_batch_rows=64, max_wait_s=0.0)
        return await asyncio.gather(
            batcher.submit(cols(1.0), 1),
            batcher.submit(cols(-1.0), 1),
            batcher.submit(cols(3.0), 1),
            return_exceptions=True,
        )

    ok1, bad, ok2 = asyncio.run(main())
    assert ok1.predictions.tolist() == [2.0] and ok2.predictions.tolist() == [6.0]
    assert isinstance(bad, ValueError)


def test_probabilities_only_for_the_requests_that_asked() -> None:
    model = CountingModel()

    async def main():
        batcher = MicroBatcher(model, max_batch_rows=64, max_wait_s=0.0)
        return await asyncio.gather(
            batcher.submit(cols(1.0), 1, True), batcher.submit(cols(2.0), 1, False)
        )

    with_p, without = asyncio.run(main())
    assert with_p.probabilities.tolist() == [[1.0, -1.0]]
    assert without.probabilities is None


@pytest.mark.parametrize("limit", [1, 64])
def test_a_request_at_or_over_the_limit_is_predicted_directly(limit: int) -> None:
    model = CountingModel()
    batcher = MicroBatcher(model, max_batch_rows=limit, max_wait_s=0.0)
    result = asyncio.run(batcher.submit(cols(*range(limit)), limit))
    assert model.calls == [limit] and len(result.predictions) == limit
