"""Every built-in materializer against the materializer contract, with edge cases: empty
values, nulls and NaN, tz-aware timestamps, non-ASCII text."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mloop import plugins
from mloop.testing.materializer_contracts import MaterializerContract

UTC = timezone.utc
TIMES = [datetime(2024, 1, 1, tzinfo=UTC), None, datetime(2024, 3, 1, 12, 30, tzinfo=UTC)]


class TestJsonMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "builtins.json")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [{"a": [1, 2.5, None], "b": "é ✓", "c": {"d": True}}, [], "", 0, None, -1.5e300]


class TestBytesMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "builtins.bytes")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [b"\x00\xffmloop", b""]


class TestNumpyArrayMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "numpy.npy")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [
            np.arange(6, dtype=np.int32).reshape(2, 3),
            np.array([], dtype=np.float64),
            np.array([np.nan, 1.0, -np.inf]),
            np.array(["2024-01-01T00:00", "NaT"], dtype="datetime64[ns]"),
        ]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert isinstance(loaded, np.ndarray) and loaded.dtype == original.dtype
        np.testing.assert_array_equal(loaded, original)


class TestNumpyScalarMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "numpy.scalar")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [np.float32(1.5), np.int64(-(2**40)), np.bool_(False), np.datetime64("2024-01-01")]


def _polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, None],
            "name": ["a", None, "ü"],
            "at": pl.Series(TIMES, dtype=pl.Datetime("us", "UTC")),
            "x": [0.5, float("nan"), None],
        }
    )


class TestPolarsDataFrameMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "polars.parquet")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [_polars_frame(), pl.DataFrame(schema={"a": pl.Int64, "b": pl.Utf8})]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert isinstance(loaded, pl.DataFrame) and loaded.schema == original.schema
        assert loaded.equals(original)


class TestPolarsLazyFrameMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "polars.lazyframe.parquet")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [_polars_frame().lazy()]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert isinstance(loaded, pl.LazyFrame)
        assert loaded.collect().equals(original.collect())


class TestPandasDataFrameMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "pandas.parquet")

    @pytest.fixture
    def samples(self) -> list[Any]:
        frame = pd.DataFrame(
            {
                "x": [1.0, np.nan, 3.0],
                "s": ["a", None, "ü"],
                "at": pd.to_datetime(TIMES, utc=True),
            },
            index=pd.Index([10, 20, 30], name="row"),
        )
        return [frame, pd.DataFrame({"a": pd.Series([], dtype="int64")})]

    def assert_same(self, loaded: Any, original: Any) -> None:
        pd.testing.assert_frame_equal(loaded, original)


class TestPandasSeriesMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "pandas.series.parquet")

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [pd.Series([1.5, np.nan, -2.0], name="score"), pd.Series([], dtype="float64")]

    def assert_same(self, loaded: Any, original: Any) -> None:
        pd.testing.assert_series_equal(loaded, original)


class TestArrowTableMaterializer(MaterializerContract):
    __test__ = True
    backend = ("materializers", "arrow.parquet")

    @pytest.fixture
    def samples(self) -> list[Any]:
        table = pa.table(
            {
                "id": pa.array([1, None, 3], pa.int64()),
                "at": pa.array(TIMES, pa.timestamp("us", "UTC")),
                "s": pa.array(["x", "ü", None]),
            }
        )
        return [table, table.slice(0, 0)]

    def assert_same(self, loaded: Any, original: Any) -> None:
        assert isinstance(loaded, pa.Table) and loaded.equals(original)


class TestPickleMaterializer(MaterializerContract):
    """Opt-in only: for values no other materializer stores."""

    __test__ = True
    backend = ("materializers", "pickle")
    chosen_by_type = False

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [Fraction(1, 3), {Decimal("1.10"), Decimal("-0")}]


def test_every_builtin_materializer_has_a_contract_test_here() -> None:
    covered = {
        cls.backend[1]
        for cls in globals().values()
        if isinstance(cls, type)
        and issubclass(cls, MaterializerContract)
        and cls is not MaterializerContract
    }
    assert covered == set(plugins.builtins("materializers"))
