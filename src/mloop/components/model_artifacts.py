"""Materializers for what the model components pass between steps: model packages (``Model``),
evaluations (``Evaluation``), blessings (``Blessing``, ``InfraBlessing``) and HTML reports.

Their names are dotted paths, so an artifact loads in any process (resume, the CLI, the UI)
even before a component module was imported: :mod:`mloop.plugins` imports the class by name.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mloop.pipelines.materializers import register_materializer
from mloop.pipelines.materializers.base import Materializer

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


def _write_json(folder: Path, name: str, data: Any) -> None:
    (folder / name).write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def _read_json(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


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


class EvaluationMaterializer(Materializer):
    name = f"{_HERE}:EvaluationMaterializer"
    version = 1
    artifact_type = "Evaluation"
    types = ("mloop.evaluation.evaluation.Evaluation",)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        _write_json(folder, "evaluation.json", value.to_dict())
        return {"task": value.task, "rows": value.rows, "metrics": value.metrics}

    def load(self, folder: Path) -> Any:
        from mloop.evaluation import Evaluation

        return Evaluation.from_dict(_read_json(folder, "evaluation.json"))


class BlessingMaterializer(Materializer):
    name = f"{_HERE}:BlessingMaterializer"
    version = 1
    artifact_type = "Blessing"
    types = ("mloop.evaluation.blessing.Blessing",)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        _write_json(folder, "blessing.json", value.to_dict())
        return {"blessed": value.blessed, "reasons": value.reasons[:20]}

    def load(self, folder: Path) -> Any:
        from mloop.evaluation import Blessing

        return Blessing.from_dict(_read_json(folder, "blessing.json"))


class InfraBlessingMaterializer(Materializer):
    name = f"{_HERE}:InfraBlessingMaterializer"
    version = 1
    artifact_type = "InfraBlessing"
    types = ("mloop.components.infra_validate.InfraBlessing",)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        _write_json(folder, "infra_blessing.json", value.to_dict())
        return {"blessed": value.blessed, "reasons": value.reasons[:20]}

    def load(self, folder: Path) -> Any:
        from mloop.components.infra_validate import InfraBlessing

        return InfraBlessing.from_dict(_read_json(folder, "infra_blessing.json"))


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
