"""Model packages: signature from the example, digests checked before anything is unpickled,
inputs checked and cast against the signature, library versions recorded and compared."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mloop.errors import IntegrityError, ModelCompatibilityError, ValidationError
from mloop.models import (
    ModelCompatibilityWarning,
    infer_signature,
    load_model,
    open_package,
    save_model,
)
from mloop.models.package import MANIFEST_NAME, file_digests, package_digest


def test_signature_is_inferred_from_the_example_and_the_output(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    pkg = save_model(sk_pipeline, tmp_path / "m", input_example=frame.head(4))
    sig = pkg.signature
    assert sig is not None
    assert [(c.name, c.dtype) for c in sig.inputs] == [
        ("term", "object"),
        ("grade", "object"),
        ("amount", "int64"),
        ("rate", "float64"),
    ]
    assert sig.outputs[0].name == "predict" and sig.outputs[0].shape == (-1,)
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert manifest["flavor"] == "sklearn"
    assert manifest["libraries"]["sklearn"].split(".")[0] == "1"
    assert manifest["digest"] == package_digest(
        file_digests(tmp_path / "m"),
        {
            "flavor": manifest["flavor"],
            "flavor_options": manifest["flavor_options"],
            "signature": manifest["signature"],
            "format_version": manifest["format_version"],
            "classes": manifest["classes"],
        },
    )


def test_infer_signature_from_polars_and_arrays():
    import polars as pl

    sig = infer_signature(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert [(c.name, c.dtype) for c in sig.inputs] == [("a", "int64"), ("b", "object")]
    arr = infer_signature(np.zeros((3, 2)))
    assert arr.input_names == ["f0", "f1"]
    with pytest.raises(ValidationError, match="2-D"):
        infer_signature(np.zeros(3))


def test_round_trip_predicts_the_same(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    save_model(sk_pipeline, tmp_path / "m", input_example=frame.head(4), code_digest="abc")
    model = load_model(tmp_path / "m")
    np.testing.assert_array_equal(model.predict(frame), sk_pipeline.predict(frame))
    np.testing.assert_allclose(model.predict_proba(frame), sk_pipeline.predict_proba(frame))
    assert model.manifest.code_digest == "abc"
    assert model.classes == [0, 1]


def test_saving_into_a_non_empty_folder_is_refused(sk_pipeline, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("x")
    with pytest.raises(ValidationError, match="not empty"):
        save_model(sk_pipeline, tmp_path / "m")
    assert (tmp_path / "m" / "keep.txt").read_text() == "x"


class _Boom:
    """Unpickling this writes a marker file: the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path(self.marker).write_text, ("unpickled!",))


def test_a_tampered_package_is_refused_before_unpickling(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    save_model(sk_pipeline, tmp_path / "m", input_example=frame.head(2))
    marker = tmp_path / "marker.txt"
    (tmp_path / "m" / "model.joblib").write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(IntegrityError, match="corrupt or was modified"):
        load_model(tmp_path / "m")
    assert not marker.exists()


def test_an_added_file_or_an_unexpected_digest_is_refused(sk_pipeline, tmp_path):
    pkg = save_model(sk_pipeline, tmp_path / "m")
    with pytest.raises(IntegrityError):
        load_model(tmp_path / "m", expected_digest="0" * 64)
    assert load_model(tmp_path / "m", expected_digest=pkg.digest).digest == pkg.digest
    (tmp_path / "m" / "extra.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError):
        open_package(tmp_path / "m")


def test_an_edited_manifest_is_refused(sk_pipeline, tmp_path):
    """How a package loads is part of its digest: editing the flavor options or the signature
    in mloop-model.json is caught like editing the model's bytes."""
    save_model(sk_pipeline, tmp_path / "m")
    path = tmp_path / "m" / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["flavor_options"] = {**manifest["flavor_options"], "injected": True}
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError):
        load_model(tmp_path / "m")


def test_inputs_are_checked_and_cast_against_the_signature(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    save_model(sk_pipeline, tmp_path / "m", input_example=frame.head(4))
    model = load_model(tmp_path / "m")
    with pytest.raises(ValidationError, match=r"\['rate'\]"):
        model.predict(frame.drop(columns="rate"))
    reordered = frame[["rate", "amount", "grade", "term"]].assign(extra=1)
    reordered["amount"] = reordered["amount"].astype("float64")  # as JSON would bring it
    np.testing.assert_array_equal(model.predict(reordered), sk_pipeline.predict(frame))
    bad = frame.head(2).assign(rate=["high", "low"])
    with pytest.raises(ValidationError, match="signature dtypes"):
        model.predict(bad)


def test_a_regressor_has_no_predict_proba(tmp_path):
    from sklearn.linear_model import LinearRegression

    x = pd.DataFrame({"a": np.arange(10.0)})
    save_model(LinearRegression().fit(x, x["a"] * 2), tmp_path / "r", input_example=x)
    model = load_model(tmp_path / "r")
    np.testing.assert_allclose(model.predict(x), x["a"] * 2, atol=1e-9)
    assert not model.has_proba
    with pytest.raises(ValidationError, match="no predict_proba"):
        model.predict_proba(x)


def _rewrite_saved_version(folder: Path, module: str, version: str) -> None:
    path = folder / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["libraries"][module] = version
    path.write_text(json.dumps(data))


def test_another_major_version_warns_or_fails_when_strict(sk_pipeline, tmp_path):
    save_model(sk_pipeline, tmp_path / "m")
    _rewrite_saved_version(tmp_path / "m", "sklearn", "0.24.2")
    with pytest.warns(ModelCompatibilityWarning, match=r"0\.24\.2"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelCompatibilityError, match="another major version"):
        load_model(tmp_path / "m", strict=True)


def test_a_missing_library_fails_clearly(sk_pipeline, tmp_path, monkeypatch):
    import mloop.models.flavors.sklearn as flavor

    save_model(sk_pipeline, tmp_path / "m")
    monkeypatch.setattr(flavor.SklearnFlavor, "module", "sklearn_not_installed_here")
    with pytest.raises(ModelCompatibilityError, match="not installed"):
        load_model(tmp_path / "m")


def test_not_a_package_and_unknown_flavor(tmp_path):
    with pytest.raises(ValidationError, match="no model package"):
        load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="not a model package"):
        load_model(tmp_path / "empty")
    with pytest.raises(ValidationError, match="no model flavor"):
        save_model(object(), tmp_path / "x")


def test_the_input_example_travels_with_the_package(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    pkg = save_model(sk_pipeline, tmp_path / "m", input_example=frame.head(3))
    example = pkg.input_example()
    assert list(example.columns) == list(frame.columns) and len(example) == 3
    np.testing.assert_array_equal(pkg.load().predict(example), sk_pipeline.predict(frame.head(3)))
