"""Every timestamp type pandas, Polars and Arrow hand DuckDB works as an event time.

Entity rows and Parquet sources are written in each unit (s, ms, us, ns), naive (= UTC) or with
a time zone (UTC and others), or as dates; point-in-time joins and materialization compare them
as instants, and the entity rows come back with the dtype they were given.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mloop.errors import TimestampTypeError
from mloop.features import Entity, FeatureView, Field, FileSource, Float64
from mloop.features.store import FeatureStore

UTC = timezone.utc
DAY = datetime(2024, 1, 1, tzinfo=UTC)
# feature rows of key 1 at 00:00, 01:00 and 03:00 UTC with values 1, 2, 3 (key 2: one row)
FEATURE_TIMES = [DAY, DAY + timedelta(hours=1), DAY + timedelta(hours=3), DAY]
FEATURE_KEYS = [1, 1, 1, 2]
FEATURE_VALUES = [1.0, 2.0, 3.0, 9.0]
# entity rows (UTC instants) and what a 2 h ttl join must give for them
ENTITY_TIMES = [
    DAY + timedelta(minutes=30),  # -> 1
    DAY + timedelta(hours=1),  # exactly at a row -> 2
    DAY + timedelta(hours=2, minutes=59, seconds=59),  # -> 2 (1:59:59 old)
    DAY + timedelta(hours=3),  # -> 3
    DAY + timedelta(hours=5, minutes=30),  # newest row is 2.5 h old -> None
    DAY - timedelta(hours=1),  # before every row -> None
    DAY + timedelta(hours=1),  # key 2 -> 9 (1 h old)
]
ENTITY_KEYS = [1, 1, 1, 1, 1, 1, 2]
EXPECTED = [1.0, 2.0, 2.0, 3.0, None, None, 9.0]

SOURCE_TYPES = {
    "ns_utc": pa.timestamp("ns", "UTC"),
    "ns_new_york": pa.timestamp("ns", "America/New_York"),
    "us_utc": pa.timestamp("us", "UTC"),
    "ms_tokyo": pa.timestamp("ms", "Asia/Tokyo"),
    "s_utc": pa.timestamp("s", "UTC"),
    "ns_naive": pa.timestamp("ns"),
    "us_naive": pa.timestamp("us"),
    "ms_naive": pa.timestamp("ms"),
    "s_naive": pa.timestamp("s"),
}


def arrow_times(times: list[datetime], kind: pa.DataType) -> pa.Array:
    """UTC instants as an Arrow array of ``kind`` (naive kinds hold UTC wall times)."""
    aware = pa.array(times, pa.timestamp("us", "UTC"))
    if kind.tz is None:
        aware = pa.array([t.replace(tzinfo=None) for t in times], pa.timestamp("us"))
    return aware.cast(kind)


def write_source(folder: Path, kind: pa.DataType, name: str = "f.parquet") -> None:
    table = pa.table(
        {
            "k": pa.array(FEATURE_KEYS, pa.int64()),
            "ts": arrow_times(FEATURE_TIMES, kind),
            "v": pa.array(FEATURE_VALUES),
        }
    )
    pq.write_table(table, folder / name)


def nulls_as_none(series: pd.Series) -> list[Any]:
    return [None if pd.isna(x) else x for x in series]


def make_store(project_dir: Path, ttl: timedelta | None = timedelta(hours=2)) -> FeatureStore:
    view = FeatureView(
        "fv",
        [Entity("k")],
        [Field("v", Float64)],
        FileSource("f.parquet", timestamp_field="ts"),
        ttl=ttl,
    )
    store = FeatureStore(project_dir)
    store.apply([view])
    return store


def pandas_rows(dtype: str) -> pd.DataFrame:
    times = pd.Series(pd.to_datetime([t.isoformat() for t in ENTITY_TIMES], utc=True))
    if "," in dtype:
        times = times.dt.tz_convert(dtype.split(",")[1].strip(" ]")).astype(dtype)
    else:
        times = times.dt.tz_localize(None).astype(dtype)
    return pd.DataFrame({"k": ENTITY_KEYS, "event_timestamp": times})


def polars_rows(unit: str, tz: str | None) -> pl.DataFrame:
    times = pl.Series([t.replace(tzinfo=None) for t in ENTITY_TIMES]).dt.replace_time_zone("UTC")
    times = times.dt.cast_time_unit(unit)  # type: ignore[arg-type]
    times = times.dt.convert_time_zone(tz) if tz else times.dt.replace_time_zone(None)
    return pl.DataFrame({"k": ENTITY_KEYS, "event_timestamp": times})


PANDAS_DTYPES = [
    "datetime64[ns, UTC]",
    "datetime64[us, UTC]",
    "datetime64[ns, America/New_York]",
    "datetime64[ms, Asia/Kolkata]",
    "datetime64[s, UTC]",
    "datetime64[ns]",
    "datetime64[us]",
    "datetime64[ms]",
    "datetime64[s]",
]


@pytest.mark.parametrize("source", sorted(SOURCE_TYPES))
@pytest.mark.parametrize("dtype", PANDAS_DTYPES)
def test_pandas_entity_rows_against_every_source_type(
    project_dir: Path, source: str, dtype: str
) -> None:
    write_source(project_dir, SOURCE_TYPES[source])
    store = make_store(project_dir)
    rows = pandas_rows(dtype)
    assert str(rows["event_timestamp"].dtype) == dtype
    out = store.get_historical_features(rows, ["fv:v"]).to_pandas()
    assert nulls_as_none(out["v"]) == EXPECTED
    assert str(out["event_timestamp"].dtype) == dtype  # the user's dtype and zone, unchanged
    assert out["event_timestamp"].tolist() == rows["event_timestamp"].tolist()
    assert out["k"].tolist() == ENTITY_KEYS


@pytest.mark.parametrize(
    ("unit", "tz"),
    [("us", None), ("ns", None), ("ms", None), ("ns", "UTC"), ("us", "Europe/Paris")],
)
@pytest.mark.parametrize("source", ["ns_utc", "us_naive", "ms_tokyo", "ns_naive"])
def test_polars_entity_rows(project_dir: Path, unit: str, tz: str | None, source: str) -> None:
    write_source(project_dir, SOURCE_TYPES[source])
    store = make_store(project_dir)
    rows = polars_rows(unit, tz)
    out = store.get_historical_features(rows, ["fv:v"]).to_polars()
    assert out["v"].to_list() == EXPECTED
    assert out.schema["event_timestamp"] == rows.schema["event_timestamp"]
    assert out["event_timestamp"].to_list() == rows["event_timestamp"].to_list()


@pytest.mark.parametrize("kind", sorted(SOURCE_TYPES))
def test_arrow_entity_rows_of_every_type_against_a_naive_source(
    project_dir: Path, kind: str
) -> None:
    write_source(project_dir, pa.timestamp("us"))
    store = make_store(project_dir)
    rows = pa.table(
        {
            "k": pa.array(ENTITY_KEYS, pa.int64()),
            "event_timestamp": arrow_times(ENTITY_TIMES, SOURCE_TYPES[kind]),
        }
    )
    out = store.get_historical_features(rows, ["fv:v"]).to_arrow()
    assert out.column("v").to_pylist() == EXPECTED
    assert out.schema.field("event_timestamp").type == SOURCE_TYPES[kind]
    assert out.column("event_timestamp").equals(rows.column("event_timestamp"))


def test_sub_microsecond_order_is_kept_across_types(project_dir: Path) -> None:
    """A feature row 500 ns after the entity row must not be joined (no future leak)."""
    base = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z in ns
    path = project_dir / "f.parquet"
    pq.write_table(
        pa.table(
            {
                "k": pa.array([1, 1], pa.int64()),
                "ts": pa.array([base, base + 1_500], pa.timestamp("ns")),
                "v": pa.array([1.0, 2.0]),
            }
        ),
        path,
    )
    read_as = duckdb.sql(f"SELECT typeof(ts) FROM read_parquet('{path}') LIMIT 1").fetchall()[0]
    if read_as != ("TIMESTAMP_NS",):  # DuckDB 1.0 reads Parquet nanoseconds as microseconds
        pytest.skip(f"DuckDB {duckdb.__version__} reads Parquet ns timestamps as {read_as}")
    store = make_store(project_dir, ttl=None)
    rows = pa.table(
        {
            "k": pa.array([1, 1], pa.int64()),
            "event_timestamp": pa.array([base + 1_000, base + 2_000], pa.timestamp("ns", "UTC")),
        }
    )
    out = store.get_historical_features(rows, ["fv:v"]).to_arrow()
    assert out.column("v").to_pylist() == [1.0, 2.0]


def test_date_columns_are_midnight_utc(project_dir: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "k": pa.array([1, 1], pa.int64()),
                "ts": pa.array([date(2024, 1, 1), date(2024, 1, 3)], pa.date32()),
                "v": pa.array([1.0, 3.0]),
            }
        ),
        project_dir / "f.parquet",
    )
    store = make_store(project_dir, ttl=timedelta(days=2))
    rows = pd.DataFrame(
        {
            "k": [1, 1, 1],
            "event_timestamp": pd.to_datetime(
                ["2024-01-01T00:00Z", "2024-01-02T23:00Z", "2024-01-03T05:00+02:00"], utc=True
            ).astype("datetime64[ns, UTC]"),
        }
    )
    out = store.get_historical_features(rows, ["fv:v"]).to_pandas()
    assert nulls_as_none(out["v"]) == [1.0, 1.0, 3.0]
    dates = pa.table({"k": pa.array([1], pa.int64()), "event_timestamp": [date(2024, 1, 3)]})
    assert store.get_historical_features(dates, ["fv:v"]).to_arrow().column("v").to_pylist() == [
        3.0
    ]


@pytest.mark.parametrize("source", sorted(SOURCE_TYPES))
def test_materialize_every_source_type(project_dir: Path, source: str) -> None:
    write_source(project_dir, SOURCE_TYPES[source])
    store = make_store(project_dir, ttl=None)
    start = datetime(2024, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=9)))  # 00:30 UTC
    end = pd.Timestamp("2024-01-01 02:00")  # naive: UTC
    (result,) = store.materialize(start, end)
    assert result.rows == 1  # key 1 at 01:00 only (key 2's row is before the window)
    online = store.get_online_features(["fv:v"], [{"k": 1}, {"k": 2}])
    assert online.to_dict()["v"] == [2.0, None]
    assert online.event_timestamps["v"][0] == DAY + timedelta(hours=1)
    (result,) = store.materialize(DAY - timedelta(days=1), DAY + timedelta(days=1))
    online = store.get_online_features(["fv:v"], [{"k": 1}, {"k": 2}])
    assert online.to_dict()["v"] == [3.0, 9.0]
    assert online.event_timestamps["v"] == [DAY + timedelta(hours=3), DAY]
    store.close()


@pytest.mark.parametrize("source", ["ns_naive", "ms_tokyo", "s_naive"])
def test_pushed_rows_join_a_source_of_another_type(project_dir: Path, source: str) -> None:
    write_source(project_dir, SOURCE_TYPES[source])
    store = make_store(project_dir, ttl=None)
    pushed_at = pd.Timestamp("2024-01-01 13:00", tz="Asia/Tokyo")  # 04:00 UTC
    store.push("fv", pd.DataFrame({"k": [1], "ts": [pushed_at], "v": [4.0]}))
    rows = pd.DataFrame(
        {
            "k": [1, 1],
            "event_timestamp": pd.to_datetime(["2024-01-01T03:59Z", "2024-01-01T04:00Z"]),
        }
    )
    out = store.get_historical_features(rows, ["fv:v"]).to_pandas()
    assert out["v"].tolist() == [3.0, 4.0]
    store.materialize(DAY, DAY + timedelta(days=1))
    online = store.get_online_features(["fv:v"], [{"k": 1}])
    assert online.event_timestamps["v"] == [DAY + timedelta(hours=4)]
    store.close()


@pytest.mark.parametrize(
    ("values", "found"), [(["2024-01-01"], "VARCHAR"), ([1704067200], "BIGINT")]
)
def test_non_timestamp_types_are_refused_with_advice(
    project_dir: Path, values: list[Any], found: str
) -> None:
    write_source(project_dir, pa.timestamp("us"))
    store = make_store(project_dir)
    rows = pl.DataFrame({"k": [1], "event_timestamp": values})
    with pytest.raises(TimestampTypeError, match=found) as caught:
        store.get_historical_features(rows, ["fv:v"])
    message = str(caught.value)
    assert "to_datetime" in message and "not a timestamp" not in message
    assert "naive = UTC" in message


def test_a_far_future_sentinel_does_not_break_nanosecond_entity_rows(project_dir: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "k": pa.array([1, 1], pa.int64()),
                "ts": pa.array([datetime(2024, 1, 1), datetime(9999, 12, 31)], pa.timestamp("us")),
                "v": pa.array([1.0, 2.0]),
            }
        ),
        project_dir / "f.parquet",
    )
    store = make_store(project_dir, ttl=None)
    rows = pandas_rows("datetime64[ns, UTC]")
    out = store.get_historical_features(rows, ["fv:v"]).to_pandas()
    assert nulls_as_none(out["v"]) == [1.0, 1.0, 1.0, 1.0, 1.0, None, None]
    assert str(out["event_timestamp"].dtype) == "datetime64[ns, UTC]"
