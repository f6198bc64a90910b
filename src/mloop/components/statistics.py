"""The ``statistics`` step: a dataset's :class:`~mloop.data.Statistics` as an artifact."""

from __future__ import annotations

from typing import Any

from mloop.components import data_artifacts as _registered  # noqa: F401 (materializers)
from mloop.data import Statistics, compute_statistics
from mloop.pipelines.dsl import step

__all__ = ["statistics"]


@step(cache=False)
def statistics(data: Any, slice_by: str | None = None) -> Statistics:
    """Statistics of ``data``: an upstream frame artifact, or a Parquet/CSV path (not cached:
    a path's content may change under the same name)."""
    return compute_statistics(data, slice_by=slice_by)
