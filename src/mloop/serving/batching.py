"""Adaptive micro-batching: requests that arrive together are predicted together.

The batcher runs the model inline on the event loop. While a batch is being predicted, new
requests pile up in the sockets; when it returns, the loop parses them and they join the next
batch. The service tells the batcher how many requests are on their way: received but not yet
parsed and checked, and (see :mod:`mloop.serving.returning_clients`) clients just answered that
are likely to send their next request at once. A batch waits for those, for at most
``max_wait_s`` after its oldest request, and never when none is coming: each arriving request
re-judges the wait, so a batch fires as soon as the last expected request has joined. An idle
service therefore never waits for company (a lone request is predicted on the next loop turn),
while a busy one batches up to ``max_batch_rows`` rows.

A batch whose prediction fails is retried request by request, so that one bad request fails
alone and its neighbours are answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mloop.serving.signature_check import Columns

__all__ = ["BatchResult", "MicroBatcher", "PredictFn"]


@dataclass(frozen=True)
class BatchResult:
    """One request's share of a batch: predictions, optional probabilities, and the size (in
    rows) of the batch it was predicted in."""

    predictions: np.ndarray
    probabilities: np.ndarray | None
    batch_rows: int


PredictFn = Callable[[Columns, bool], tuple[np.ndarray, np.ndarray | None]]
"""Predict checked columns (and probabilities when the flag says so) -> (predictions,
probabilities or None), row-aligned."""


@dataclass
class _Pending:
    columns: Columns
    rows: int
    want_proba: bool
    future: asyncio.Future[BatchResult]


class MicroBatcher:
    """Collects requests into batches of at most ``max_batch_rows`` rows for ``predict``.

    ``on_batch(rows)`` is called after each batch (for metrics); ``arriving()`` says how many
    requests are still being read and checked (None: never wait). With ``max_batch_rows == 1``
    every request is predicted at once, in its own handler, with no queue at all.
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_rows: int = 64,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
        arriving: Callable[[], int] | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._pending: list[_Pending] = []
        self._pending_rows = 0
        self.arriving = arriving
        self._scheduled: asyncio.Handle | None = None
        self._timed = False  # whether _scheduled is the max-wait timer (else: the next turn)
        self._oldest = 0.0  # when the oldest pending request was queued (loop time, s)

    async def submit(self, columns: Columns, rows: int, want_proba: bool = False) -> BatchResult:
        """Predict ``columns`` (``rows`` rows), alone or with whatever else is waiting."""
        if self.max_batch_rows <= 1 or rows >= self.max_batch_rows:
            return self._run_alone(columns, rows, want_proba)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        if not self._pending:
            self._oldest = loop.time()
        self._pending.append(_Pending(columns, rows, want_proba, future))
        self._pending_rows += rows
        if self._pending_rows >= self.max_batch_rows:
            self._cancel()
            self._drain()
        else:
            self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drain on the next loop turn (after the requests parsed in this one joined), or, while
        more requests are expected, when the oldest has waited ``max_wait_s``."""
        if self._should_wait(loop.time()):
            if self._scheduled is None:
                self._scheduled = loop.call_at(self._oldest + self.max_wait_s, self._drain)
                self._timed = True
            return
        if self._scheduled is not None and self._timed:
            self._cancel()
        if self._scheduled is None:
            self._scheduled = loop.call_soon(self._drain)
            self._timed = False

    def _run_alone(self, columns: Columns, rows: int, want_proba: bool) -> BatchResult:
        predictions, probabilities = self.predict(columns, want_proba)
        if self.on_batch is not None:
            self.on_batch(rows)
        return BatchResult(predictions, probabilities, rows)

    def _cancel(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None

    def _drain(self) -> None:
        self._scheduled = None
        loop = asyncio.get_running_loop()
        if self._should_wait(loop.time()):
            self._schedule(loop)  # company is still on its way: wait for it (bounded)
            return
        while self._pending:
            batch, rows = self._take()
            self._predict_batch(batch, rows)
            if self._pending and self._pending_rows < self.max_batch_rows:
                self._oldest = loop.time()
                self._schedule(loop)
                return

    def _should_wait(self, now: float) -> bool:
        """Wait while more requests are on their way, the batch is not full and the oldest
        request has not waited ``max_wait_s`` yet."""
        if self.arriving is None or self.max_wait_s <= 0 or not self._pending:
            return False
        if self._pending_rows >= self.max_batch_rows or now - self._oldest >= self.max_wait_s:
            return False
        return self.arriving() > 0

    def _take(self) -> tuple[list[_Pending], int]:
        batch: list[_Pending] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0].rows <= self.max_batch_rows):
            item = self._pending.pop(0)
            batch.append(item)
            rows += item.rows
        self._pending_rows -= rows
        return batch, rows

    def _predict_batch(self, batch: list[_Pending], rows: int) -> None:
        live = [p for p in batch if not p.future.done()]  # a client may have gone away
        if not live:
            return
        if len(live) == 1:
            self._settle_alone(live[0])
            return
        names = list(live[0].columns)
        merged = {n: np.concatenate([p.columns[n] for p in live]) for n in names}
        try:
            want = any(p.want_proba for p in live)
            predictions, probabilities = self.predict(merged, want)
        except Exception:
            for item in live:  # one bad request must not fail its neighbours
                self._settle_alone(item)
            return
        if self.on_batch is not None:
            self.on_batch(rows)
        start = 0
        for item in live:
            stop = start + item.rows
            proba = None
            if probabilities is not None and item.want_proba:
                proba = probabilities[start:stop]
            if not item.future.done():
                item.future.set_result(BatchResult(predictions[start:stop], proba, rows))
            start = stop

    def _settle_alone(self, item: _Pending) -> None:
        try:
            result = self._run_alone(item.columns, item.rows, item.want_proba)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(exc)
        else:
            if not item.future.done():
                item.future.set_result(result)

    def pending_rows(self) -> int:
        """Rows waiting for the next batch."""
        return self._pending_rows
