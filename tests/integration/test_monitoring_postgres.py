"""Monitoring rows on PostgreSQL: alert deduplication holds under concurrent jobs."""

from __future__ import annotations

import threading

import pytest

from mloop.metadata import connect

pytestmark = pytest.mark.integration


def test_concurrent_jobs_open_one_alert(postgres_url: str) -> None:
    rows = connect(postgres_url).monitoring()
    barrier = threading.Barrier(8)
    created: list[bool] = []

    def job() -> None:
        barrier.wait(5)
        _, new = rows.raise_alert("m", "drift", severity="warning", message="x", value=0.5)
        created.append(new)

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(created) == [False] * 7 + [True]
    (alert,) = rows.list_alerts("m", state="open")
    assert alert.occurrences == 8
    assert rows.resolve_alert("m", "drift") is not None
    assert rows.list_alerts("m", state="open") == []
