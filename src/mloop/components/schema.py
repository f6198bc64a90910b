"""The ``infer_schema`` step: a first :class:`~mloop.data.Schema` from training statistics.

Write it out with ``Schema.to_yaml(path)``, review it, and pass the file to ``validate``.
"""

from __future__ import annotations

from mloop.components import data_artifacts as _registered  # noqa: F401 (materializers)
from mloop.data import Schema, Statistics
from mloop.data import infer_schema as _infer_schema
from mloop.pipelines.dsl import step

__all__ = ["infer_schema"]


@step
def infer_schema(statistics: Statistics, label: str | None = None) -> Schema:
    """The schema these statistics satisfy; ``label`` is marked absent from SERVING data."""
    return _infer_schema(statistics, label=label)
