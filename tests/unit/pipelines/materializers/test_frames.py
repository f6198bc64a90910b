"""Frames and tables as Parquet: nulls, strings, tz-aware datetimes, categoricals, indexes."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import ValidationError
from mloop.pipelines.materializers import frames, load_value, materializer_for, store_value

_N = count()


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": [1.5, float("nan"), -0.0],
            "s": ["a", None, "ünïcode"],
            "t": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-31 23:59"]).tz_localize(
                "Europe/Paris"
            ),
            "c": pd.Categorical(["x", "y", None], categories=["y", "x", "z"]),
            "b": [True, False, True],
        }
    )


def polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "i": [1, None, 3],
            "f": [1.5, None, float("nan")],
            "s": ["a", None, "ünïcode"],
            "t": [
                datetime(2024, 1, 1, tzinfo=timezone.utc),
                None,
                datetime(2024, 6, 1, tzinfo=timezone.utc),
            ],
            "c": pl.Series(["x", "y", None], dtype=pl.Categorical),
            "e": pl.Series(["lo", "hi", "lo"], dtype=pl.Enum(["lo", "hi"])),
            "l": [[1, 2], [], None],
        }
    ).with_columns(pl.col("t").dt.convert_time_zone("America/New_York"))


def roundtrip(store: LocalArtifactStore, value: object, name: str) -> object:
    stored = store_value(value, store, f"f/{next(_N)}")
    assert stored.materializer == name
    assert stored.artifact_type == "Dataset"
    return load_value(store, stored.uri, stored.materializer, digest=stored.digest)


def test_pandas_frame_round_trip(store: LocalArtifactStore) -> None:
    df = pandas_frame()
    pd.testing.assert_frame_equal(roundtrip(store, df, "pandas.parquet"), df)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["r1", "r2", "r3"], name="key"),
        pd.RangeIndex(10, 16, 2),
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k1", "k2"]),
        pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03"], tz="UTC", name="when"),
    ],
)
def test_pandas_index_is_preserved(store: LocalArtifactStore, index: pd.Index) -> None:
    df = pandas_frame().set_axis(index)
    pd.testing.assert_frame_equal(roundtrip(store, df, "pandas.parquet"), df)


def test_pandas_default_index_is_not_stored_as_a_column(store: LocalArtifactStore) -> None:
    stored = store_value(pandas_frame(), store, "d")
    with store.open_local("d") as folder:
        names = pq.read_schema(folder / "data.parquet").names
    assert names == ["i", "f", "s", "t", "c", "b"]
    assert stored.properties["rows"] == 3 and stored.properties["columns"] == 6


def test_pandas_non_string_columns_need_pickle(store: LocalArtifactStore) -> None:
    df = pd.DataFrame({0: [1], "a": [2]})
    with pytest.raises(ValidationError, match="column names must all be str"):
        materializer_for(df)
    stored = store_value(df, store, "p", allow_pickle=True)
    assert stored.materializer == "pickle"
    pd.testing.assert_frame_equal(load_value(store, "p", "pickle"), df)


@pytest.mark.parametrize("name", ["target", None, 3])
def test_pandas_series_round_trip(store: LocalArtifactStore, name: object) -> None:
    s = pd.Series(pd.Categorical(["a", None, "b"]), index=pd.Index([5, 6, 7], name="id"), name=name)
    out = roundtrip(store, s, "pandas.series.parquet")
    pd.testing.assert_series_equal(out, s)


def test_polars_frame_round_trip(store: LocalArtifactStore) -> None:
    df = polars_frame()
    out = roundtrip(store, df, "polars.parquet")
    assert out.schema == df.schema
    assert out.equals(df, null_equal=True)


def test_polars_lazy_frame_is_collected(store: LocalArtifactStore) -> None:
    lazy = polars_frame().lazy().filter(pl.col("i").is_not_null())
    out = roundtrip(store, lazy, "polars.lazyframe.parquet")
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().equals(lazy.collect(), null_equal=True)


def test_arrow_table_round_trip(store: LocalArtifactStore) -> None:
    table = pa.table(
        {"a": [1, None], "s": ["x", None], "d": pa.array(["u", "v"]).dictionary_encode()}
    )
    out = roundtrip(store, table, "arrow.parquet")
    assert out.equals(table)


def test_arrow_int_dictionaries_come_back_decoded(store: LocalArtifactStore) -> None:
    table = pa.table({"d": pa.array([1, 2, 1]).dictionary_encode()})
    out = roundtrip(store, table, "arrow.parquet")
    assert out.column("d").to_pylist() == [1, 2, 1]


def test_parquet_uses_the_fast_codec(store: LocalArtifactStore) -> None:
    for i, value in enumerate([polars_frame(), pandas_frame(), pa.table({"a": [1]})]):
        store_value(value, store, f"c/{i}")
        with store.open_local(f"c/{i}") as folder:
            meta = pq.ParquetFile(folder / "data.parquet").metadata
        codecs = {meta.row_group(0).column(j).compression for j in range(meta.num_columns)}
        assert codecs <= {"LZ4", "LZ4_RAW"}, (frames.PARQUET_CODEC, codecs)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(allow_nan=False),
            st.none() | st.text(max_size=8),
            st.none() | st.datetimes(timezones=st.just(timezone.utc)),
        ),
        max_size=20,
    )
)
def test_polars_frames_round_trip_property(store: LocalArtifactStore, rows: list[tuple]) -> None:
    df = pl.DataFrame(
        rows,
        schema={"i": pl.Int64, "f": pl.Float64, "s": pl.String, "t": pl.Datetime("us", "UTC")},
        orient="row",
    )
    out = roundtrip(store, df, "polars.parquet")
    assert out.schema == df.schema and out.equals(df, null_equal=True)
