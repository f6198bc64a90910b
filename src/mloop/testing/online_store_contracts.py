"""The behaviour every :class:`~mloop.features.online_stores.base.OnlineStore` must show.

A backend's tests subclass :class:`OnlineStoreContract`, set ``__test__ = True`` and override the
``store`` fixture (a fresh, empty store; close it afterwards)::

    class TestMyOnlineStore(OnlineStoreContract):
        __test__ = True

        @pytest.fixture
        def store(self):
            s = MyOnlineStore(...)
            yield s
            s.close()
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from mloop.features.definitions import (
    Bool,
    Bytes,
    Entity,
    FeatureView,
    Field,
    Float32,
    Float64,
    Int32,
    Int64,
    String,
    UnixTimestamp,
)
from mloop.features.materialize import to_online_rows
from mloop.features.online_stores.base import OnlineRows, OnlineStore, encode_entity_key
from mloop.features.sources import FileSource

__all__ = ["OnlineStoreContract"]

NAMES = ("a", "b", "c")


def rows(keys: list[str], ts: float, base: float = 0.0) -> OnlineRows:
    return OnlineRows(
        NAMES, keys, [ts] * len(keys), [[base + i, f"s{i}", i % 2 == 0] for i in range(len(keys))]
    )


ALL_DTYPES = {
    "i32": (Int32, pa.int32(), 7),
    "i64": (Int64, pa.int64(), -(2**40)),
    "f32": (Float32, pa.float32(), 0.5),
    "f64": (Float64, pa.float64(), 0.1),
    "s": (String, pa.string(), ""),
    "b": (Bool, pa.bool_(), False),
    "t": (UnixTimestamp, pa.timestamp("us", "UTC"), datetime(2024, 1, 1, tzinfo=timezone.utc)),
    "raw": (Bytes, pa.binary(), None),
}


def null_rows() -> tuple[FeatureView, pa.Table]:
    """A view with a feature of every dtype and an Arrow batch: entity 1 has a value in each
    column (bytes: null), entity 2 only nulls, entity 3 NaN in the float columns."""
    view = FeatureView(
        "nulls",
        [Entity("k", value_type=Int64)],
        [Field(name, dtype) for name, (dtype, _, _) in ALL_DTYPES.items()],
        FileSource("unused.parquet", timestamp_field="ts"),
    )
    nan = {"f32": math.nan, "f64": math.nan}
    columns = {
        "k": pa.array([1, 2, 3], pa.int64()),
        "ts": pa.array([datetime(2024, 1, 2, tzinfo=timezone.utc)] * 3, pa.timestamp("us", "UTC")),
    }
    for name, (_, kind, value) in ALL_DTYPES.items():
        columns[name] = pa.array([value, None, nan.get(name)], kind)
    return view, pa.table(columns)


class OnlineStoreContract:
    __test__ = False

    @pytest.fixture
    def store(self) -> OnlineStore:
        raise NotImplementedError("override the 'store' fixture in the backend's test class")

    def test_read_missing_key_is_none(self, store: OnlineStore) -> None:
        assert store.read("v", ["nope"], ["a"]) == [None]
        assert store.read("v", ["x", "y"], ["a", "b"]) == [None, None]

    def test_write_then_read_round_trips_values_and_time(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1", "2"], 100.5, base=10.0))
        assert store.read("v", ["2"], ["c", "a", "b"]) == [([False, 11.0, "s1"], 100.5)]
        got = store.read("v", ["1", "missing", "2"], ["a"])
        assert got == [([10.0], 100.5), None, ([11.0], 100.5)]

    def test_null_values_are_stored_rows_not_missing_keys(self, store: OnlineStore) -> None:
        store.write_batch(
            "v",
            OnlineRows(
                NAMES,
                ["1", "2"],
                [5.0, 6.0],
                [[None, None, None], [math.nan, None, True]],
            ),
        )
        got = store.read("v", ["1", "2", "3"], list(NAMES))
        assert got == [([None, None, None], 5.0), ([None, None, True], 6.0), None]

    def test_nulls_of_every_dtype_round_trip_from_a_materialized_batch(
        self, store: OnlineStore
    ) -> None:
        view, table = null_rows()
        batch = to_online_rows(view, table, "ts")
        store.write_batch(view.name, batch, watermark=10.0)
        names = list(ALL_DTYPES)
        first, nulls, nans = store.read(view.name, ["1", "2", "3"], names)
        assert first is not None and nans is not None
        assert nulls == ([None] * len(names), datetime(2024, 1, 2, tzinfo=timezone.utc).timestamp())
        values = dict(zip(names, first[0], strict=True))
        assert values["i32"] == 7 and values["i64"] == -(2**40) and values["f64"] == 0.1
        assert values["f32"] == 0.5 and values["s"] == "" and values["b"] is False
        assert values["t"] is not None and values["raw"] is None
        assert dict(zip(names, nans[0], strict=True))["f32"] is None
        assert dict(zip(names, nans[0], strict=True))["f64"] is None
        assert store.read(view.name, ["4"], names) == [None]
        store.delete_view(view.name)

    def test_read_views_answers_each_view_in_order(self, store: OnlineStore) -> None:
        store.write_batch("v1", rows(["1", "2"], 1.0, base=1.0))
        store.write_batch("v2", rows(["2"], 2.0, base=5.0))
        got = store.read_views(
            [("v1", ["2", "x", "1"], ["a"]), ("v2", ["2"], ["b", "a"]), ("v2", [], ["a"])]
        )
        assert got == [
            [([2.0], 1.0), None, ([1.0], 1.0)],
            [(["s0", 5.0], 2.0)],
            [],
        ]
        assert store.read_views([]) == []

    def test_unknown_feature_of_stored_row_reads_none(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1"], 1.0))
        assert store.read("v", ["1"], ["zzz", "a"]) == [([None, 0.0], 1.0)]

    def test_views_are_separate(self, store: OnlineStore) -> None:
        store.write_batch("v1", rows(["1"], 1.0, base=1.0))
        store.write_batch("v2", rows(["1"], 2.0, base=2.0))
        assert store.read("v1", ["1"], ["a"]) == [([1.0], 1.0)]
        assert store.read("v2", ["1"], ["a"]) == [([2.0], 2.0)]

    def test_older_row_never_replaces_newer(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1"], 50.0, base=5.0))
        store.write_batch("v", rows(["1"], 40.0, base=4.0))
        assert store.read("v", ["1"], ["a"]) == [([5.0], 50.0)]
        store.write_batch("v", rows(["1"], 60.0, base=6.0))
        assert store.read("v", ["1"], ["a"]) == [([6.0], 60.0)]

    def test_same_time_rewrite_takes_the_later_write(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1"], 50.0, base=5.0))
        store.write_batch("v", rows(["1"], 50.0, base=7.0))
        assert store.read("v", ["1"], ["a"]) == [([7.0], 50.0)]

    def test_watermark_advances_with_the_batch(self, store: OnlineStore) -> None:
        assert store.get_watermark("v") is None
        store.write_batch("v", rows(["1"], 1.0), watermark=1000.0)
        assert store.get_watermark("v") == 1000.0
        store.write_batch("v", rows([], 1.0), watermark=2000.0)
        assert store.get_watermark("v") == 2000.0
        store.write_batch("v", rows(["2"], 1.0))  # a push leaves the watermark alone
        assert store.get_watermark("v") == 2000.0
        assert store.get_watermark("other") is None

    def test_replaying_a_batch_is_idempotent(self, store: OnlineStore) -> None:
        batch = rows([str(i) for i in range(50)], 10.0)
        store.write_batch("v", batch, watermark=10.0)
        first = store.read("v", [str(i) for i in range(50)], list(NAMES))
        store.write_batch("v", batch, watermark=10.0)
        assert store.read("v", [str(i) for i in range(50)], list(NAMES)) == first

    def test_many_keys_in_one_read_keep_order_and_duplicates(self, store: OnlineStore) -> None:
        keys = [str(i) for i in range(1200)]
        store.write_batch("v", rows(keys, 3.0))
        wanted = ["5", "1199", "5", "nope", "0"]
        got = store.read("v", wanted, ["a"])
        assert got == [([5.0], 3.0), ([1199.0], 3.0), ([5.0], 3.0), None, ([0.0], 3.0)]

    def test_composite_keys_do_not_collide(self, store: OnlineStore) -> None:
        k1, k2 = encode_entity_key(["a", "bc"]), encode_entity_key(["ab", "c"])
        store.write_batch("v", OnlineRows(["a"], [k1, k2], [1.0, 1.0], [[1], [2]]))
        assert store.read("v", [k1, k2], ["a"]) == [([1], 1.0), ([2], 1.0)]

    def test_delete_view(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1"], 1.0), watermark=5.0)
        store.write_batch("w", rows(["1"], 1.0))
        store.delete_view("v")
        assert store.read("v", ["1"], ["a"]) == [None]
        assert store.get_watermark("v") is None
        assert store.read("w", ["1"], ["a"]) != [None]

    def test_concurrent_readers_and_a_writer(self, store: OnlineStore) -> None:
        store.write_batch("v", rows(["1"], 1.0))

        def read(_: int) -> object:
            return store.read("v", ["1"], ["a"])[0]

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(read, i) for i in range(40)]
            store.write_batch("v", rows(["1"], 2.0, base=9.0))
            results = [f.result() for f in futures]
        assert all(r in (([0.0], 1.0), ([9.0], 2.0)) for r in results)
