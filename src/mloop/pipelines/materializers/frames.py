"""Data frames and Arrow tables as one Parquet file, ``data.parquet``.

Compression is :data:`PARQUET_CODEC` (LZ4; see bench/bench_materializers.py: it writes and reads
fastest at a size close to zstd level 1, while gzip costs several times more). Reads go through
pyarrow or polars with memory mapping. Libraries are imported inside the methods, and types are
claimed by dotted name, so importing this module does not import polars, pandas or pyarrow.
Known Parquet limit: an Arrow dictionary column of non-string values (e.g. int64) comes back
decoded (same values, plain type); string dictionaries and pandas categoricals are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from mloop.pipelines.materializers.base import Materializer

__all__ = [
    "PARQUET_CODEC",
    "ArrowTableMaterializer",
    "PandasDataFrameMaterializer",
    "PandasSeriesMaterializer",
    "PolarsDataFrameMaterializer",
    "PolarsLazyFrameMaterializer",
]

PARQUET_CODEC = "lz4"  # Parquet compression codec for every frame materializer
PARQUET_LEVEL: int | None = None  # codec level (e.g. 1 for zstd); None = the codec's default
FILE_NAME = "data.parquet"
_SERIES_KEY = b"mloop.series"  # schema metadata: JSON {"column": ..., "name": ...}
_SERIES_COLUMN = "values"


def _arrow_properties(table: Any) -> dict[str, Any]:
    return {
        "rows": table.num_rows,
        "columns": table.num_columns,
        "schema": {f.name: str(f.type) for f in table.schema},
    }


def _write_arrow(table: Any, folder: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(
        table, folder / FILE_NAME, compression=PARQUET_CODEC, compression_level=PARQUET_LEVEL
    )


def _read_arrow(folder: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(folder / FILE_NAME, memory_map=True)


class PolarsDataFrameMaterializer(Materializer):
    """``polars.DataFrame`` -> Parquet, written and read by polars."""

    name = "polars.parquet"
    version = 1
    artifact_type = "Dataset"
    types = ("polars.dataframe.frame.DataFrame", "polars.DataFrame")

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``data.parquet``; properties: ``rows``, ``columns``, ``schema`` (name -> dtype)."""
        value.write_parquet(
            folder / FILE_NAME, compression=PARQUET_CODEC, compression_level=PARQUET_LEVEL
        )
        return {
            "rows": value.height,
            "columns": value.width,
            "schema": {name: str(dtype) for name, dtype in value.schema.items()},
        }

    def load(self, folder: Path) -> Any:
        """The frame, read with memory mapping."""
        import polars as pl

        return pl.read_parquet(folder / FILE_NAME, memory_map=True)


class PolarsLazyFrameMaterializer(PolarsDataFrameMaterializer):
    """``polars.LazyFrame`` -> collected, then Parquet; loaded as a ``LazyFrame`` over memory."""

    name = "polars.lazyframe.parquet"
    version = 1
    types = ("polars.lazyframe.frame.LazyFrame", "polars.LazyFrame")

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Collect the query, then write it as a DataFrame."""
        return super().save(value.collect(), folder)

    def load(self, folder: Path) -> Any:
        """A LazyFrame over the data read into memory (the folder may be temporary)."""
        return super().load(folder).lazy()


def _pandas_columns_reason(frame: Any) -> str | None:
    columns = list(frame.columns)
    if not all(isinstance(c, str) for c in columns):
        return "column names must all be str for Parquet; rename them or allow pickle"
    if len(set(columns)) != len(columns):
        return "column names must be unique for Parquet"
    return None


class PandasDataFrameMaterializer(Materializer):
    """``pandas.DataFrame`` -> Parquet via pyarrow; a non-default index is kept as columns and
    restored, as are categoricals and time zones (pandas metadata in the file)."""

    name = "pandas.parquet"
    version = 1
    artifact_type = "Dataset"
    types = ("pandas.DataFrame", "pandas.core.frame.DataFrame")

    def unsupported_reason(self, value: Any) -> str | None:
        """Parquet needs unique string column names."""
        return _pandas_columns_reason(value)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``data.parquet``; properties: ``rows``, ``columns``, ``schema``."""
        import pyarrow as pa

        table = pa.Table.from_pandas(value, preserve_index=None)
        _write_arrow(table, folder)
        props = _arrow_properties(table)
        props["columns"] = value.shape[1]
        props["schema"] = {str(c): str(t) for c, t in value.dtypes.items()}
        return props

    def load(self, folder: Path) -> Any:
        """The frame, with its index and dtypes restored."""
        return _read_arrow(folder).to_pandas()


class PandasSeriesMaterializer(Materializer):
    """``pandas.Series`` -> a one-column Parquet file; name and index are restored."""

    name = "pandas.series.parquet"
    version = 1
    artifact_type = "Dataset"
    types = ("pandas.Series", "pandas.core.series.Series")

    def unsupported_reason(self, value: Any) -> str | None:
        """The series name must be JSON-able (str, int, float, None, ...)."""
        try:
            orjson.dumps(value.name)
        except TypeError:
            return f"series name {value.name!r} is not JSON-able; rename it or allow pickle"
        return None

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``data.parquet``; properties: ``rows``, ``dtype``, ``name``."""
        import pyarrow as pa

        table = pa.Table.from_pandas(value.to_frame(name=_SERIES_COLUMN), preserve_index=None)
        meta = dict(table.schema.metadata or {})
        meta[_SERIES_KEY] = orjson.dumps({"column": _SERIES_COLUMN, "name": value.name})
        _write_arrow(table.replace_schema_metadata(meta), folder)
        return {"rows": len(value), "dtype": str(value.dtype), "name": value.name}

    def load(self, folder: Path) -> Any:
        """The series, with its name, index and dtype."""
        table = _read_arrow(folder)
        info = orjson.loads(table.schema.metadata[_SERIES_KEY])
        series = table.to_pandas()[info["column"]]
        series.name = info["name"]
        return series


class ArrowTableMaterializer(Materializer):
    """``pyarrow.Table`` -> Parquet, read back with memory mapping."""

    name = "arrow.parquet"
    version = 1
    artifact_type = "Dataset"
    types = ("pyarrow.lib.Table", "pyarrow.Table")

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``data.parquet``; properties: ``rows``, ``columns``, ``schema``."""
        _write_arrow(value, folder)
        return _arrow_properties(value)

    def load(self, folder: Path) -> Any:
        """The table."""
        return _read_arrow(folder)
