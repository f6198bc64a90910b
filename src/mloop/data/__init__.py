"""mloop.data: statistics, schema, anomalies and drift, computed on frames.

Pure computation (no database, no HTTP): functions take frames or statistics and return plain
dataclasses that serialize to JSON (and the schema to YAML). Heavy libraries (Polars, pyarrow,
DataSketches) are imported when a function first needs them.
"""

from __future__ import annotations

from mloop.data.drift import DriftReport, FeatureDrift, detect_drift
from mloop.data.schema import FeatureSchema, Schema, infer_schema
from mloop.data.statistics import compute_statistics
from mloop.data.types import (
    CategoricalSummary,
    DatetimeSummary,
    FeatureStatistics,
    NumericSummary,
    Statistics,
)
from mloop.data.validation import Anomalies, Anomaly, validate

__all__ = [
    "Anomalies",
    "Anomaly",
    "CategoricalSummary",
    "DatetimeSummary",
    "DriftReport",
    "FeatureDrift",
    "FeatureSchema",
    "FeatureStatistics",
    "NumericSummary",
    "Schema",
    "Statistics",
    "compute_statistics",
    "detect_drift",
    "infer_schema",
    "validate",
]
