"""Export to ONNX runs the model with onnxruntime alone, and the parity check refuses an export
whose predictions differ from the native model's."""

from __future__ import annotations

import numpy as np
import pytest

from mloop.errors import OnnxExportError
from mloop.models import export_onnx, load_model, save_model

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def test_sklearn_pipeline_with_strings_exports_with_parity(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    pkg = export_onnx(sk_pipeline, tmp_path / "onnx", input_example=frame)
    assert pkg.flavor == "onnx" and "model.onnx" in pkg.manifest.files
    model = load_model(tmp_path / "onnx")
    np.testing.assert_allclose(
        model.predict_proba(frame), sk_pipeline.predict_proba(frame), rtol=1e-3, atol=1e-4
    )
    np.testing.assert_array_equal(model.predict(frame), sk_pipeline.predict(frame))


def test_export_from_a_saved_package(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    native = save_model(sk_pipeline, tmp_path / "native", input_example=frame.head(3))
    pkg = export_onnx(native, tmp_path / "onnx", input_example=frame.head(50))
    assert pkg.manifest.metadata["converted_from"] == "sklearn"


def test_lightgbm_exports_with_parity(numeric, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    pytest.importorskip("onnxmltools")
    x, y = numeric
    model = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(x, y)
    pkg = export_onnx(model, tmp_path / "onnx", input_example=x)
    np.testing.assert_allclose(
        pkg.load().predict_proba(x), model.predict_proba(x), rtol=1e-3, atol=1e-4
    )


def test_parity_failure_is_refused(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    # float32 arithmetic inside onnxruntime cannot match float64 scikit-learn bit for bit
    with pytest.raises(OnnxExportError, match="differ"):
        export_onnx(sk_pipeline, tmp_path / "onnx", input_example=frame, rtol=0.0, atol=0.0)
    assert not (tmp_path / "onnx").exists()  # no unfaithful package is left behind


def test_unsupported_models_fail_clearly(loans, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    frame, y = loans
    model = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(frame[["rate"]], y)
    with pytest.raises(OnnxExportError, match="numeric features only"):
        export_onnx(model, tmp_path / "x", input_example=frame.assign(extra="s")[["rate", "extra"]])
