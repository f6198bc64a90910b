"""Materializers for what the model components pass between steps: model packages (``Model``),
evaluations (``Evaluation``), blessings (``Blessing``, ``InfraBlessing``) and HTML reports.

Their names are dotted paths, so an artifact loads in any process (resume, the CLI, the UI)
even before a component module was imported: :mod:`mloop.plugins` imports the class by name.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mloop.pipelines.materializers import register_materializer
from mloop.pipelines.materializers.base import Materializer
from mloop.pipelines.materializers.records import JsonRecordMaterializer

__all__ = [
    "BlessingMaterializer",
    "EvaluationMaterializer",
    "HtmlReport",
    "HtmlReportMaterializer",
    "InfraBlessingMaterializer",
    "ModelPackageMaterializer",
    "register_model_materializers",
]

_HERE = "mloop.components.model_artifacts"


@dataclass(frozen=True)
class HtmlReport:
    """A self-contained HTML page (e.g. the evaluation report)."""

    html: str
    title: str = "report"


class ModelPackageMaterializer(Materializer):
    """A ``ModelPackage`` -> its files as they are (the package digest stays the same)."""

    name = f"{_HERE}:ModelPackageMaterializer"
    version = 1
    artifact_type = "Model"
    types = ("mloop.models.api.ModelPackage",)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        shutil.copytree(value.path, folder, dirs_exist_ok=True)
        m = value.manifest
        return {
            "flavor": m.flavor,
            "package_digest": m.digest,
            "code_digest": m.code_digest,
            "libraries": m.libraries,
            "signature": None if m.signature is None else m.signature.to_dict(),
        }

    def load(self, folder: Path) -> Any:
        from mloop.models import open_package

        return open_package(folder, copy=True)  # the step gets a private, verified copy


class EvaluationMaterializer(JsonRecordMaterializer):
    name = f"{_HERE}:EvaluationMaterializer"
    artifact_type = "Evaluation"
    file_name = "evaluation.json"
    value_class = "mloop.evaluation.evaluation:Evaluation"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"task": value.task, "rows": value.rows, "metrics": value.metrics}


class BlessingMaterializer(JsonRecordMaterializer):
    name = f"{_HERE}:BlessingMaterializer"
    artifact_type = "Blessing"
    file_name = "blessing.json"
    value_class = "mloop.evaluation.blessing:Blessing"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"blessed": value.blessed, "reasons": value.reasons[:20]}


class InfraBlessingMaterializer(JsonRecordMaterializer):
    name = f"{_HERE}:InfraBlessingMaterializer"
    artifact_type = "InfraBlessing"
    file_name = "infra_blessing.json"
    value_class = "mloop.components.infra_validate:InfraBlessing"

    def properties(self, value: Any) -> dict[str, Any]:
        return {"blessed": value.blessed, "reasons": value.reasons[:20]}


class HtmlReportMaterializer(Materializer):
    name = f"{_HERE}:HtmlReportMaterializer"
    version = 1
    artifact_type = "Report"
    types = (HtmlReport,)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        (folder / "report.html").write_text(value.html, encoding="utf-8")
        return {"title": value.title, "file": "report.html"}

    def load(self, folder: Path) -> Any:
        return HtmlReport((folder / "report.html").read_text(encoding="utf-8"))


MATERIALIZERS: list[type[Materializer]] = [
    ModelPackageMaterializer,
    EvaluationMaterializer,
    BlessingMaterializer,
    InfraBlessingMaterializer,
    HtmlReportMaterializer,
]
_DONE: list[bool] = []


def register_model_materializers() -> None:
    """Register the materializers above (idempotent; component modules call it on import)."""
    if _DONE:
        return
    for cls in MATERIALIZERS:
        register_materializer(cls, override=True)
    _DONE.append(True)
