"""Statistics of a partitioned dataset on a Ray cluster: one Ray task per Parquet file.

Each task summarises its partition where it runs (the files must be readable there: one
machine, a shared file system, or a mounted bucket) and sends back the statistics as JSON
(sketches included); the driver merges them with ``Statistics.merge`` in partition order, so
the result is the same as :func:`mloop.data.partitioned.compute_partitioned_statistics` in one
process, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mloop._utils.ray_session import connected_ray
from mloop.data.partitioned import compute_partitioned_statistics, partition_statistics_json
from mloop.data.statistics import MAX_VALUES
from mloop.data.types import Statistics

__all__ = ["compute_statistics_on_ray"]


def compute_statistics_on_ray(
    source: str | Path | Sequence[str | Path],
    slice_by: str | None = None,
    *,
    max_values: int = MAX_VALUES,
    num_cpus: float = 1.0,
    address: str | None = None,
) -> Statistics:
    """Statistics of every Parquet partition of ``source``, each computed in a Ray task asking
    ``num_cpus``, merged in partition order."""
    ray = connected_ray(address, needs="distributed statistics")
    task = ray.remote(num_cpus=num_cpus, max_retries=3)(partition_statistics_json)

    def mapper(_fn: Any, paths: Sequence[str]) -> list[str]:
        refs = [task.remote(p, slice_by, max_values) for p in paths]
        return list(ray.get(refs))

    return compute_partitioned_statistics(source, slice_by, max_values=max_values, mapper=mapper)
