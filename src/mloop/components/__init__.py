"""mloop.components: the standard pipeline steps (one module per step).

Data validation: ``statistics``, ``infer_schema`` and ``validate`` (the gate that fails a run
on blocking anomalies); importing this package registers the materializers of Statistics,
Schema, Anomalies and DriftReport artifacts.
"""

from __future__ import annotations

from mloop.components.schema import infer_schema
from mloop.components.statistics import statistics
from mloop.components.validate import validate

__all__ = ["infer_schema", "statistics", "validate"]
