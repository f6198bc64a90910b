from __future__ import annotations

import time

import numpy as np
import pyarrow.parquet as pq

from mloop.serving.logs.feedback import FeedbackRecord, feedback_rows
from mloop.serving.logs.prediction_log import (
    ParquetLog,
    PredictionRecord,
    prediction_blocks,
    prediction_rows,
)

HOUR = 3600.0
T0 = 1_795_500_000.0  # some hour boundary region, UTC


def record(model: str, ts: float, rid: str, n: int = 2) -> PredictionRecord:
    return PredictionRecord(
        model=model,
        version="1",
        route="champion",
        request_id=rid,
        timestamp=ts,
        latency_ms=1.5,
        inputs={"x": np.arange(n, dtype=float), "model": np.full(n, "clash", dtype=object)},
        predictions=np.arange(n),
        probabilities=None,
    )


def pred_log(root, **kw) -> ParquetLog:
    return ParquetLog(root, lambda r: (r.model, r.timestamp, prediction_rows(r)), **kw)


def test_files_rotate_by_model_and_hour(tmp_path) -> None:
    log = pred_log(tmp_path, flush_interval_s=60)
    log.start()
    log.put(record("a", T0, "r1"))
    log.put(record("a", T0 + HOUR, "r2"))
    log.put(record("b", T0, "r3"))
    log.close()
    files = sorted(p.relative_to(tmp_path).parts[:3] for p in tmp_path.rglob("*.parquet"))
    hours = {f[2] for f in files}
    assert {f[0] for f in files} == {"a", "b"} and len(files) == 3 and len(hours) == 2
    table = pq.read_table(next((tmp_path / "b").rglob("*.parquet")))
    assert table.column("request_id").to_pylist() == ["r3", "r3"]
    assert table.column("input.model").to_pylist() == ["clash", "clash"]  # no clash with meta
    assert table.column("model").to_pylist() == ["b", "b"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_full_buffer_is_written_without_waiting_for_close(tmp_path) -> None:
    log = pred_log(tmp_path, flush_rows=3, flush_interval_s=60)
    log.start()
    for i in range(3):
        log.put(record("a", T0, f"r{i}"))
    deadline = time.monotonic() + 5
    while not list(tmp_path.rglob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.rows_written == 6
    log.close()
    log.close()  # closing twice is harmless
    assert log.files_written == 1


def test_feedback_labels_of_mixed_types_are_kept_as_text(tmp_path) -> None:
    log = ParquetLog(tmp_path, feedback_rows, flush_interval_s=60)
    log.start()
    log.put(FeedbackRecord("m", "r1", [1, "yes"], T0))
    log.close()
    table = pq.read_table(next(tmp_path.rglob("*.parquet")))
    assert table.column("label").to_pylist() == ["1", "yes"]
    assert table.column("row").to_pylist() == [0, 1]


def _read_all(root) -> list[dict]:
    rows = []
    for path in sorted(root.rglob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return sorted(rows, key=lambda r: (r["model"], r["request_id"], r["row"]))


def test_bulk_conversion_writes_the_same_rows_as_record_by_record(tmp_path) -> None:
    """prediction_blocks (the service's writer) and prediction_rows give identical logs, for
    one-row and many-row requests, two models, two hours, and with probabilities."""
    records = [record("a", T0 + i, f"r{i}", n=1 + i % 3) for i in range(9)]
    records += [record("b", T0 + HOUR + 1, "s1", n=4), record("a", T0 + HOUR, "t1", n=1)]
    proba = PredictionRecord(
        "c", "2", "canary", "p1", T0, 2.0, {"x": np.array([1.0, 2.0])}, np.array([0, 1]),
        np.array([[0.9, 0.1], [0.2, 0.8]]),
    )  # fmt: skip
    records.append(proba)
    for folder, kw in (("bulk", {"to_blocks": prediction_blocks}), ("single", {})):
        log = pred_log(tmp_path / folder, flush_interval_s=60, **kw)
        log.start()
        for r in records:
            log.put(r)
        log.close()
    bulk, single = _read_all(tmp_path / "bulk"), _read_all(tmp_path / "single")
    assert len(bulk) == sum(len(r.predictions) for r in records)
    assert bulk == single
    assert [r["row"] for r in bulk if r["request_id"] == "s1"] == [0, 1, 2, 3]
    assert [r["prediction_proba"] for r in bulk if r["model"] == "c"] == [[0.9, 0.1], [0.2, 0.8]]


def test_two_writers_of_one_pid_and_millisecond_keep_both_files(tmp_path, monkeypatch) -> None:
    """File names were part-<pid>-<ms>-<n> with n counted per writer: two logs in one process
    (or two containers, both pid 1, on a shared volume) writing in the same millisecond gave
    one name, and the second file replaced the first (6 failed requests of a monitoring test
    vanished, once in ~30 runs). A writer's random token now keeps them apart."""
    import mloop.serving.logs.prediction_log as module

    monkeypatch.setattr(module.time, "time", lambda: T0)  # one millisecond for everyone
    for rid in ("first", "second"):
        log = pred_log(tmp_path, flush_interval_s=60)
        log.start()
        log.put(record("a", T0, rid))
        log.close()
    files = list(tmp_path.rglob("*.parquet"))
    ids = sorted(pq.read_table(f).column("request_id")[0].as_py() for f in files)
    assert len(files) == 2 and ids == ["first", "second"]
