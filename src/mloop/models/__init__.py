"""Model packages: save a fitted model with its signature, library versions and digest; load it
back verified from its folder; export to ONNX with a parity check.

    pkg = mloop.models.save_model(model, "out/model", input_example=frame.head(20))
    model = mloop.models.load_model("out/model")
    model.predict(frame); model.predict_proba(frame); model.signature

A registered model is loaded by URI one layer up: ``mloop.load_model("models:/lending@production")``
(the same as ``mloop.registry.load_model``).
"""

from __future__ import annotations

from mloop.models.api import (
    LoadedModel,
    ModelCompatibilityWarning,
    ModelPackage,
    load_model,
    open_package,
    save_model,
)
from mloop.models.onnx_export import export_onnx
from mloop.models.package import ColumnSpec, Manifest, Signature, infer_signature

__all__ = [
    "ColumnSpec",
    "LoadedModel",
    "Manifest",
    "ModelCompatibilityWarning",
    "ModelPackage",
    "Signature",
    "export_onnx",
    "infer_signature",
    "load_model",
    "open_package",
    "save_model",
]

# Registry calls live one layer up (mloop.registry): the model format does not import the
# registry. A user who looks for them here is told where they are.
_IN_REGISTRY = {
    "register_model",
    "set_alias",
    "get_alias",
    "get_model_version",
    "resolve",
    "rollback",
    "search_models",
    "alias_history",
}


def __getattr__(name: str) -> object:
    if name in _IN_REGISTRY:
        raise AttributeError(
            f"mloop.models has no {name!r}: registry calls are in mloop.registry "
            f"(from mloop import registry; registry.{name}(...)), and register_model / "
            "set_alias also as mloop.register_model / mloop.set_alias"
        )
    raise AttributeError(f"module 'mloop.models' has no attribute {name!r}")
