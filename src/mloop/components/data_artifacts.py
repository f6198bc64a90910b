"""Materializers for the data-validation dataclasses: each is one JSON file.

Registered when :mod:`mloop.components` is imported. Each materializer's ``name`` is its dotted
path, so an artifact loads in a fresh process even before anything registered it (the registry
falls back to importing a ``package.module:Class`` name).
"""

from __future__ import annotations

from typing import Any

from mloop.pipelines.materializers import register_materializer
from mloop.pipelines.materializers.records import JsonRecordMaterializer

__all__ = [
    "AnomaliesMaterializer",
    "DriftReportMaterializer",
    "SchemaMaterializer",
    "StatisticsMaterializer",
    "register_data_materializers",
]

_MODULE = __name__


class StatisticsMaterializer(JsonRecordMaterializer):
    name = f"{_MODULE}:StatisticsMaterializer"
    artifact_type = "Statistics"
    file_name = "statistics.json"
    value_class = "mloop.data.types:Statistics"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"rows": value.num_rows, "columns": len(value.features), "slice_by": value.slice_by}


class SchemaMaterializer(JsonRecordMaterializer):
    name = f"{_MODULE}:SchemaMaterializer"
    artifact_type = "Schema"
    file_name = "schema.json"
    value_class = "mloop.data.schema:Schema"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"features": len(value.features), "environments": value.environments}


class AnomaliesMaterializer(JsonRecordMaterializer):
    name = f"{_MODULE}:AnomaliesMaterializer"
    artifact_type = "Anomalies"
    file_name = "anomalies.json"
    value_class = "mloop.data.validation:Anomalies"

    def properties(self, value: Any) -> dict[str, Any]:
        return {
            "errors": len(value.errors),
            "warnings": len(value.warnings),
            "blocking": value.blocking,
        }


class DriftReportMaterializer(JsonRecordMaterializer):
    name = f"{_MODULE}:DriftReportMaterializer"
    artifact_type = "DriftReport"
    file_name = "drift.json"
    value_class = "mloop.data.drift:DriftReport"

    def properties(self, value: Any) -> dict[str, Any]:
        return {
            "dataset_drifted": value.dataset_drifted,
            "share_drifted": value.share_drifted,
            "drifted_features": value.drifted_features,
        }


MATERIALIZERS = (
    StatisticsMaterializer,
    SchemaMaterializer,
    AnomaliesMaterializer,
    DriftReportMaterializer,
)


def register_data_materializers() -> None:
    """Register the four materializers (idempotent)."""
    for cls in MATERIALIZERS:
        register_materializer(cls, override=True)


register_data_materializers()
