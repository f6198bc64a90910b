"""Adaptive micro-batching: requests that arrive while the model is busy are predicted together.

The batcher runs the model inline on the event loop. While a batch is being predicted, new
requests pile up in the sockets; when it returns, the loop parses them and they join the next
batch. An idle service therefore never waits for company (a lone request is predicted on the
next loop turn), while a busy one batches up to ``max_batch_rows`` rows. ``max_wait_s`` lets a
batch wait a little longer for more rows, but only while the previous batch held more than one
request, i.e. when the service is demonstrably busy.

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

    ``on_batch(rows)`` is called after each batch (for metrics). With ``max_batch_rows == 1``
    every request is predicted at once, in its own handler, with no queue at all.
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_rows: int = 64,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._pending: list[_Pending] = []
        self._pending_rows = 0
        self._scheduled: asyncio.Handle | asyncio.TimerHandle | None = None
        self._busy = False  # the previous batch held more than one request

    async def submit(self, columns: Columns, rows: int, want_proba: bool = False) -> BatchResult:
        """Predict ``columns`` (``rows`` rows), alone or with whatever else is waiting."""
        if self.max_batch_rows <= 1 or rows >= self.max_batch_rows:
            return self._run_alone(columns, rows, want_proba)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        self._pending.append(_Pending(columns, rows, want_proba, future))
        self._pending_rows += rows
        if self._pending_rows >= self.max_batch_rows:
            self._cancel_timer()
            self._drain()
        elif self._scheduled is None:
            if self._busy and self.max_wait_s > 0:
                self._scheduled = loop.call_later(self.max_wait_s, self._drain)
            else:
                self._scheduled = loop.call_soon(self._drain)
        return await future

    def _run_alone(self, columns: Columns, rows: int, want_proba: bool) -> BatchResult:
        predictions, probabilities = self.predict(columns, want_proba)
        if self.on_batch is not None:
            self.on_batch(rows)
        return BatchResult(predictions, probabilities, rows)

    def _cancel_timer(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None

    def _drain(self) -> None:
        self._scheduled = None
        while self._pending:
            batch, rows = self._take()
            self._busy = len(batch) > 1
            self._predict_batch(batch, rows)
            if self._pending and self._pending_rows < self.max_batch_rows:
                # Leave the rest for the next turn: its requests may gain company meanwhile.
                loop = asyncio.get_running_loop()
                self._scheduled = loop.call_soon(self._drain)
                return

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
