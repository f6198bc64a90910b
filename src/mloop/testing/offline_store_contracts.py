"""The behaviour every :class:`~mloop.features.offline_stores.base.OfflineStore` must show.

A backend's tests subclass :class:`OfflineStoreContract`, set ``__test__ = True`` and override the
``make_store`` fixture: a function ``(repo_path) -> OfflineStore`` for a feature repository whose
sources (Parquet files) live under ``repo_path``::

    class TestMyOfflineStore(OfflineStoreContract):
        __test__ = True

        @pytest.fixture
        def make_store(self):
            return lambda repo: MyOfflineStore.from_config(MyOfflineStore.Config(), repo)

Times in the data are tz-aware UTC; the suite also sends naive entity times (read as UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mloop.features.definitions import Entity, FeatureView, Field, Float64, Int64
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.retrieval import plan_retrieval
from mloop.features.sources import FileSource

__all__ = ["OfflineStoreContract"]

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
UTC_US = pa.timestamp("us", "UTC")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# (driver, event hour, created hour, rate, trips): driver 2 has two rows at hour 5, the later
# created one wins; driver 3 has only a row in the future of every entity row below.
ROWS = [
    (1, 0, 0, 0.1, 1),
    (1, 1, 1, 0.2, 2),
    (2, 0, 0, 0.3, 3),
    (2, 5, 5, 0.4, 4),
    (2, 5, 6, 0.5, 5),
    (3, 50, 50, 0.9, 9),
]


def _source_table() -> pa.Table:
    return pa.table(
        {
            "driver_id": pa.array([r[0] for r in ROWS], pa.int64()),
            "event_timestamp": pa.array([at(r[1]) for r in ROWS], UTC_US),
            "created": pa.array([at(r[2]) for r in ROWS], UTC_US),
            "rate": pa.array([r[3] for r in ROWS], pa.float64()),
            "trips": pa.array([r[4] for r in ROWS], pa.int64()),
        }
    )


class OfflineStoreContract:
    """Point-in-time joins, latest rows per entity, entity samples and the push log."""

    __test__ = False
    backend: ClassVar[tuple[str, str]]  # ("offline_stores", name): the built-in this covers

    @pytest.fixture
    def make_store(self) -> Callable[[Path], OfflineStore]:
        raise NotImplementedError("override the 'make_store' fixture in the backend's test class")

    @pytest.fixture
    def view(self, tmp_path: Path) -> FeatureView:
        (tmp_path / "data").mkdir()
        pq.write_table(_source_table(), tmp_path / "data" / "stats.parquet")
        return FeatureView(
            name="driver_stats",
            entities=[Entity("driver", join_keys=["driver_id"])],
            schema=[Field("rate", Float64), Field("trips", Int64)],
            source=FileSource("data/stats.parquet", created_timestamp_column="created"),
            ttl=timedelta(hours=2),
        )

    @pytest.fixture
    def store(self, make_store: Callable[[Path], OfflineStore], tmp_path: Path) -> Any:
        return make_store(tmp_path)

    def _historical(self, store: OfflineStore, view: FeatureView, rows: pa.Table) -> pa.Table:
        plan = plan_retrieval(["driver_stats:rate", "driver_stats:trips"], {view.name: view}, {})
        return store.get_historical_features(rows, "event_timestamp", plan.views)

    def test_point_in_time_join_keeps_rows_and_order(
        self, store: OfflineStore, view: FeatureView
    ) -> None:
        entity = pa.table(
            {
                "driver_id": pa.array([2, 1, 1, 2, 3, 4], pa.int64()),
                "event_timestamp": pa.array([at(5), at(0.5), at(1), at(8), at(6), at(1)], UTC_US),
            }
        )
        got = self._historical(store, view, entity)
        assert got.column("driver_id").to_pylist() == [2, 1, 1, 2, 3, 4]
        assert got.column("event_timestamp").equals(entity.column("event_timestamp"))
        # 2@5: the later-created row of two at hour 5; 1@0.5: the hour-0 row, not the future
        # one; 2@8: outside the 2 h ttl; 3@6: only a future row; 4: unknown entity
        assert got.column("rate").to_pylist() == [0.5, 0.1, 0.2, None, None, None]
        assert got.column("trips").to_pylist() == [5, 1, 2, None, None, None]

    def test_naive_entity_times_are_utc(self, store: OfflineStore, view: FeatureView) -> None:
        entity = pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "event_timestamp": pa.array([at(1).replace(tzinfo=None)], pa.timestamp("us")),
            }
        )
        assert self._historical(store, view, entity).column("rate").to_pylist() == [0.2]

    def test_pull_latest_gives_each_entitys_newest_row_in_the_window(
        self, store: OfflineStore, view: FeatureView
    ) -> None:
        got = store.pull_latest(view, at(0), at(10)).sort_by("driver_id")
        assert got.column("driver_id").to_pylist() == [1, 2]
        assert got.column("rate").to_pylist() == [0.2, 0.5]
        assert got.column("__mloop_ts").type == UTC_US
        assert got.column("__mloop_ts").to_pylist() == [at(1), at(5)]
        assert got.column("__mloop_created").to_pylist() == [at(1), at(6)]
        assert store.pull_latest(view, at(20), at(30)).num_rows == 0

    def test_pull_latest_created_after_reads_late_rows(
        self, store: OfflineStore, view: FeatureView
    ) -> None:
        late = store.pull_latest(view, at(100), at(10), created_after=at(5.5))
        assert late.column("driver_id").to_pylist() == [2]
        assert late.column("rate").to_pylist() == [0.5]

    def test_sample_entities_is_distinct_bounded_and_reproducible(
        self, store: OfflineStore, view: FeatureView
    ) -> None:
        everyone = store.sample_entities(view, 10, seed=1)
        assert sorted(everyone.column("driver_id").to_pylist()) == [1, 2, 3]
        two = store.sample_entities(view, 2, seed=7)
        keys = two.column("driver_id").to_pylist()
        assert len(keys) == 2 and len(set(keys)) == 2 and set(keys) <= {1, 2, 3}
        for _ in range(5):  # the same seed, the same sample, every time
            again = store.sample_entities(view, 2, seed=7).column("driver_id").to_pylist()
            assert sorted(again) == sorted(keys)

    def test_pushed_rows_are_read_with_the_source(
        self, store: OfflineStore, view: FeatureView
    ) -> None:
        pushed = pa.table(
            {
                "driver_id": pa.array([1, 7], pa.int64()),
                "event_timestamp": pa.array([at(3), at(3)], UTC_US),
                "created": pa.array([at(3), at(3)], UTC_US),
                "rate": pa.array([0.7, None], pa.float64()),
                "trips": pa.array([7, 70], pa.int64()),
            }
        )
        assert store.append_log(view, pushed)
        latest = store.pull_latest(view, at(0), at(10)).sort_by("driver_id")
        assert latest.column("driver_id").to_pylist() == [1, 2, 7]
        assert latest.column("rate").to_pylist() == [0.7, 0.5, None]
        entity = pa.table(
            {
                "driver_id": pa.array([1, 7], pa.int64()),
                "event_timestamp": pa.array([at(4), at(4)], UTC_US),
            }
        )
        got = self._historical(store, view, entity)
        assert got.column("trips").to_pylist() == [7, 70]

    def test_constructed_from_its_default_config(
        self, store: OfflineStore, tmp_path: Path, view: FeatureView
    ) -> None:
        cls = type(store)
        fresh = cls.from_config(cls.Config(), tmp_path)
        assert isinstance(fresh, OfflineStore)
        assert fresh.pull_latest(view, at(0), at(10)).num_rows == 2
