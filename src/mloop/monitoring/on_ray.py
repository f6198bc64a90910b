"""Monitoring jobs on a Ray cluster: one Ray task per group of prediction-log files.

Each task summarises its files where it runs (they must be readable there: one machine, a
shared file system or a mounted bucket) and sends back its :class:`PartitionSummary`; the
driver merges the summaries in file order (:mod:`mloop.monitoring.partitioned`), so the
report is the one the same groups give in one process, bit for bit. The feedback labels and
the window's schema are put in the object store once and shared by every task. Ray is
imported here only, when a job asks for it (``pip install 'mloop[ray]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mloop._utils.ray_session import connected_ray
from mloop.monitoring.partitioned import Mapper, PartitionFn, PartitionSummary

__all__ = ["ray_mapper"]


def ray_mapper(address: str | None = None, *, num_cpus: float = 1.0) -> Mapper:
    """A mapper running every group as a Ray task asking ``num_cpus`` (on the cluster at
    ``address``, or the one this process is connected to, or a local one)."""

    def mapper(
        fn: PartitionFn, groups: Sequence[list[str]], shared: dict[str, Any]
    ) -> list[PartitionSummary]:
        ray = connected_ray(address, needs="--runner ray")
        task = ray.remote(num_cpus=num_cpus, max_retries=3)(fn)
        refs = {k: ray.put(v) for k, v in shared.items()}  # once, not once per task
        return list(ray.get([task.remote(group, **refs) for group in groups]))

    return mapper
