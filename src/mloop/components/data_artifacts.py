"""Materializers for the data-validation dataclasses: each is one JSON file.

Registered when :mod:`mloop.components` is imported. Each materializer's ``name`` is its dotted
path, so an artifact loads in a fresh process even before anything registered it (the registry
falls back to importing a ``package.module:Class`` name).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

from mloop.pipelines.materializers import Materializer, register_materializer

__all__ = [
    "AnomaliesMaterializer",
    "DriftReportMaterializer",
    "SchemaMaterializer",
    "StatisticsMaterializer",
    "register_data_materializers",
]

_MODULE = __name__


class _JsonDataclassMaterializer(Materializer):
    """Writes ``value.to_json()`` to :attr:`file_name`; loads with ``cls.from_json``.

    Types are claimed by dotted name, and ``mloop.data`` is imported only to load, so that
    registering these (an entry point) does not import NumPy into every process.
    """

    file_name: ClassVar[str]
    value_type_name: ClassVar[str]  # "module:Class"

    @property
    def value_type(self) -> type:
        module, _, cls = self.value_type_name.partition(":")
        return getattr(importlib.import_module(module), cls)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        (folder / self.file_name).write_text(value.to_json(), encoding="utf-8")
        return self.properties(value)

    def load(self, folder: Path) -> Any:
        return self.value_type.from_json((folder / self.file_name).read_text(encoding="utf-8"))

    def properties(self, value: Any) -> dict[str, Any]:
        return {}


class StatisticsMaterializer(_JsonDataclassMaterializer):
    name = f"{_MODULE}:StatisticsMaterializer"
    artifact_type = "Statistics"
    types = ("mloop.data.types.Statistics",)
    file_name = "statistics.json"
    value_type_name = "mloop.data.types:Statistics"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"rows": value.num_rows, "columns": len(value.features), "slice_by": value.slice_by}


class SchemaMaterializer(_JsonDataclassMaterializer):
    name = f"{_MODULE}:SchemaMaterializer"
    artifact_type = "Schema"
    types = ("mloop.data.schema.Schema",)
    file_name = "schema.json"
    value_type_name = "mloop.data.schema:Schema"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"features": len(value.features), "environments": value.environments}


class AnomaliesMaterializer(_JsonDataclassMaterializer):
    name = f"{_MODULE}:AnomaliesMaterializer"
    artifact_type = "Anomalies"
    types = ("mloop.data.validation.Anomalies",)
    file_name = "anomalies.json"
    value_type_name = "mloop.data.validation:Anomalies"

    def properties(self, value: Any) -> dict[str, Any]:
        return {
            "errors": len(value.errors),
            "warnings": len(value.warnings),
            "blocking": value.blocking,
        }


class DriftReportMaterializer(_JsonDataclassMaterializer):
    name = f"{_MODULE}:DriftReportMaterializer"
    artifact_type = "DriftReport"
    types = ("mloop.data.drift.DriftReport",)
    file_name = "drift.json"
    value_type_name = "mloop.data.drift:DriftReport"

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
