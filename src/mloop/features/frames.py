"""Frames in and out of the feature store: anything tabular in, Arrow by default out.

Entity rows may be a pyarrow Table, a Polars or pandas DataFrame, or a list of dicts; results are
a :class:`RetrievalJob` that converts lazily (``to_arrow``, ``to_polars``, ``to_pandas``/``to_df``)
so that callers who want Arrow never pay for building pandas objects.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mloop.errors import ValidationError


def to_arrow_table(data: Any, where: str = "entity rows") -> pa.Table:
    """``data`` as a pyarrow Table (raises ``ValidationError`` for anything else)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".", 1)[0]
    if module == "polars":
        return data.to_arrow()
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return pa.Table.from_pylist(data)
    if isinstance(data, dict):
        return pa.table(data)
    raise ValidationError(
        f"{where} must be a pandas or Polars DataFrame, a pyarrow Table, a dict of columns or a "
        f"list of dicts, not {type(data).__name__}"
    )


class RetrievalJob:
    """A computed training set; convert it to the frame library you use."""

    def __init__(self, table: pa.Table, feature_views: list[str]) -> None:
        self._table = table
        self.feature_views = feature_views

    def to_arrow(self) -> pa.Table:
        return self._table

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self._table)

    def to_pandas(self) -> Any:
        return self._table.to_pandas()

    to_df = to_pandas  # Feast's name

    def __len__(self) -> int:
        return self._table.num_rows

    def __repr__(self) -> str:
        return f"RetrievalJob({self._table.num_rows} rows, columns={self._table.column_names})"
