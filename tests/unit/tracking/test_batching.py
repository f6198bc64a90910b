"""MetricBuffer: flushes at the size threshold, at the time threshold, on demand; keeps values
when a write fails."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mloop.errors import StoreError
from mloop.metadata.entities import Metric
from mloop.tracking.batching import MetricBuffer, flush_all


class RecordingStore:
    """Records each log_metrics call (one call = one transaction); can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[list[Metric]] = []
        self.fail = False

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        if self.fail:
            raise StoreError("database unavailable")
        self.calls.append(list(metrics))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _buffer(store: RecordingStore, clock: FakeClock, **kw: float) -> MetricBuffer:
    return MetricBuffer(lambda: store, "run1", clock=clock, **kw)  # type: ignore[arg-type,return-value]


def test_flushes_when_the_buffer_is_full() -> None:
    store, clock = RecordingStore(), FakeClock()
    buffer = _buffer(store, clock, max_values=100, max_seconds=10.0)
    for i in range(250):
        buffer.add([Metric("m", float(i), i)])
    assert [len(c) for c in store.calls] == [100, 100]
    assert len(buffer) == 50
    buffer.close()
    assert [len(c) for c in store.calls] == [100, 100, 50]
    assert [m.step for c in store.calls for m in c] == list(range(250))


def test_flushes_at_the_next_call_after_the_interval() -> None:
    store, clock = RecordingStore(), FakeClock()
    buffer = _buffer(store, clock, max_values=1000, max_seconds=1.0)
    buffer.add([Metric("m", 1.0)])
    clock.now = 0.99
    buffer.add([Metric("m", 2.0)])
    assert store.calls == []
    clock.now = 1.0
    buffer.add([Metric("m", 3.0)])
    assert [[m.value for m in c] for c in store.calls] == [[1.0, 2.0, 3.0]]
    clock.now = 1.5  # the interval counts from the last flush
    buffer.add([Metric("m", 4.0)])
    assert len(store.calls) == 1
    buffer.close()


def test_a_failed_flush_keeps_the_values() -> None:
    store, clock = RecordingStore(), FakeClock()
    buffer = _buffer(store, clock, max_values=2, max_seconds=10.0)
    store.fail = True
    with pytest.raises(StoreError):
        buffer.add([Metric("m", 1.0), Metric("m", 2.0)])
    assert len(buffer) == 2
    store.fail = False
    buffer.flush()
    assert [len(c) for c in store.calls] == [2]
    buffer.close()


def test_flush_all_writes_every_live_buffer() -> None:
    store, clock = RecordingStore(), FakeClock()
    buffers = [_buffer(store, clock) for _ in range(3)]
    for b in buffers:
        b.add([Metric("m", 1.0)])
    flush_all()
    assert len(store.calls) == 3 and all(len(b) == 0 for b in buffers)
    for b in buffers:
        b.close()
