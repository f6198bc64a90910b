"""Convert scikit-learn and LightGBM models to ONNX, and prove the conversion with a parity check.

The ONNX package runs with onnxruntime alone (no scikit-learn or LightGBM at serving time). It
is written only when its predictions on the example equal the native ones: probabilities within
``atol + rtol * |p|``, labels identical except where the native probability is within ``atol`` of
a tie. Needs ``pip install 'mloop[onnx]'`` (skl2onnx, onnxruntime; onnxmltools for LightGBM).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mloop.errors import OnnxExportError, ValidationError
from mloop.models.api import LoadedModel, ModelPackage, save_model
from mloop.models.package import as_pandas

__all__ = ["export_onnx", "to_onnx_proto"]


def export_onnx(
    model: Any,
    path: str | Path,
    *,
    input_example: Any,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    code_digest: str | None = None,
) -> ModelPackage:
    """Write an ONNX package of ``model`` (a fitted estimator, a ``ModelPackage`` or a
    ``LoadedModel`` of the sklearn/lightgbm flavors) to ``path``; raise ``OnnxExportError`` when
    the converted model's predictions on ``input_example`` differ from the native ones."""
    native, reference = _native_and_reference(model)
    example = as_pandas(input_example)
    if len(example) == 0:
        raise ValidationError("export_onnx needs a non-empty input_example to check parity")
    proto = to_onnx_proto(native, example)
    package = save_model(
        proto,
        path,
        input_example=example,
        flavor="onnx",
        code_digest=code_digest,
        metadata={"converted_from": reference.flavor.name if reference else _kind(native)},
    )
    try:
        check_parity(reference, native, package.load(), example, rtol=rtol, atol=atol)
    except BaseException:
        shutil.rmtree(package.path, ignore_errors=True)  # never leave an unfaithful package
        raise
    return package


def _native_and_reference(model: Any) -> tuple[Any, LoadedModel | None]:
    if isinstance(model, ModelPackage):
        model = model.load()
    if isinstance(model, LoadedModel):
        if model.flavor.name == "lightgbm":
            raise OnnxExportError(
                "a LightGBM package holds only the booster; export the fitted LGBMClassifier or "
                "LGBMRegressor itself (export_onnx(model, ...)) before saving it"
            )
        return model.native, model
    return model, None


def _kind(native: Any) -> str:
    return type(native).__module__.split(".", 1)[0]


def to_onnx_proto(native: Any, example: Any) -> Any:
    """The ``onnx.ModelProto`` of a scikit-learn or LightGBM model for frames like ``example``."""
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    except ImportError as exc:
        raise OnnxExportError("ONNX export needs skl2onnx: pip install 'mloop[onnx]'") from exc
    numeric = all(str(t) not in ("object", "str", "string", "category") for t in example.dtypes)
    if _kind(native) == "lightgbm":
        if not numeric:
            raise OnnxExportError(
                "the LightGBM ONNX converter takes numeric features only; encode categorical "
                "columns as numbers before training"
            )
        try:
            from onnxmltools import convert_lightgbm
            from onnxmltools.convert.common.data_types import FloatTensorType as LgbFloat
        except ImportError as exc:
            raise OnnxExportError(
                "LightGBM export needs onnxmltools: pip install 'mloop[onnx]'"
            ) from exc
        lgb_types = [("input", LgbFloat([None, example.shape[1]]))]
        return convert_lightgbm(native, initial_types=lgb_types, zipmap=False, target_opset=15)
    by_name = not numeric or _selects_columns(native)
    if by_name:
        types = [
            (
                str(c),
                StringTensorType([None, 1])
                if str(example[c].dtype) in ("object", "str", "string", "category")
                else FloatTensorType([None, 1]),
            )
            for c in example.columns
        ]
    else:
        types = [("input", FloatTensorType([None, example.shape[1]]))]
    try:
        return convert_sklearn(native, initial_types=types, options={"zipmap": False})
    except Exception as exc:  # converters raise many types for unsupported models
        raise OnnxExportError(
            f"skl2onnx cannot convert {type(native).__qualname__}: {exc}"
        ) from exc


def _selects_columns(native: Any) -> bool:
    first = native.steps[0][1] if hasattr(native, "steps") else native
    return type(first).__name__ == "ColumnTransformer"


def check_parity(
    reference: LoadedModel | None,
    native: Any,
    converted: LoadedModel,
    example: Any,
    *,
    rtol: float,
    atol: float,
) -> None:
    """Raise ``OnnxExportError`` when ``converted`` disagrees with the native model."""
    import numpy as np

    def native_call(method: str) -> Any:
        if reference is not None:
            return getattr(reference, method)(example)
        return np.asarray(getattr(native, method)(example))

    if converted.has_proba and hasattr(native, "predict_proba"):
        expected = np.asarray(native_call("predict_proba"), dtype=np.float64)
        got = np.asarray(converted.predict_proba(example), dtype=np.float64)
        if expected.shape != got.shape:
            raise OnnxExportError(
                f"ONNX probabilities have shape {got.shape}, not {expected.shape}"
            )
        diff = np.abs(expected - got)
        worst = float(diff.max())
        if not np.all(diff <= atol + rtol * np.abs(expected)):
            raise OnnxExportError(
                f"ONNX probabilities differ from the native ones by up to {worst:.3g} "
                f"(tolerance {atol} + {rtol} x |p|); the conversion is not faithful"
            )
        ties = np.sort(expected, axis=1)
        near_tie = (ties[:, -1] - ties[:, -2]) <= 2 * atol if ties.shape[1] > 1 else False
    else:
        near_tie = np.zeros(len(example), dtype=bool)
    labels = np.asarray(native_call("predict"))
    got_labels = np.asarray(converted.predict(example))
    if labels.dtype.kind == "f":
        bad = ~np.isclose(labels, got_labels.astype(np.float64), rtol=rtol, atol=atol)
    else:
        bad = (labels.astype(str) != got_labels.astype(str)) & ~near_tie
    if np.any(bad):
        raise OnnxExportError(
            f"ONNX predictions differ from the native ones on {int(bad.sum())} of "
            f"{len(labels)} example rows; the conversion is not faithful"
        )
