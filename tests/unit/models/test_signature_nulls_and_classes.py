"""What a package records beyond its files (issue 15, points 7 and 9): which inputs accept
missing values, and a classifier's class labels. Both are covered by the package digest when
recorded; a package saved before they were recorded keeps its digest and loads as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mloop.errors import IntegrityError, ValidationError
from mloop.models import Signature, infer_signature, load_model, save_model
from mloop.models.package import MANIFEST_NAME, file_digests, package_digest


def test_nullability_comes_from_the_example_and_from_named_columns() -> None:
    example = pd.DataFrame(
        {
            "rate": [0.1, np.nan],
            "amount": [1.0, 2.0],
            "home": pd.Series(["rent", None], dtype=object),
            "term": ["36", "60"],
            "at": pd.to_datetime(["2024-01-01", None], utc=True),  # tz-aware with a NaT
        }
    )
    sig = infer_signature(example, nullable=["amount"])
    assert {c.name: c.nullable for c in sig.inputs} == {
        "rate": True,
        "amount": True,  # named: it held a null in the full training data
        "home": True,
        "term": False,
        "at": True,
    }
    assert sig.nullable_inputs == ["rate", "amount", "home", "at"]
    again = Signature.from_dict(json.loads(json.dumps(sig.to_dict())))
    assert again == sig


def test_a_signature_without_nullability_round_trips_without_the_key() -> None:
    old = {"inputs": [{"name": "x", "dtype": "float64", "shape": [-1]}], "outputs": []}
    sig = Signature.from_dict(old)
    assert sig.inputs[0].nullable is None and sig.nullable_inputs == []
    assert sig.to_dict() == old  # the digest of an older package is computed from this


def test_an_older_package_without_nullability_or_classes_keeps_its_digest(
    sk_pipeline, loans, tmp_path
) -> None:
    frame, _ = loans
    folder = tmp_path / "old"
    save_model(sk_pipeline, folder, input_example=frame.head(4))
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    # rewrite it as mloop wrote packages before it recorded nullability and classes
    del manifest["classes"]
    for col in manifest["signature"]["inputs"] + manifest["signature"]["outputs"]:
        col.pop("nullable", None)
    loading = {k: manifest[k] for k in ("flavor", "flavor_options", "signature", "format_version")}
    manifest["digest"] = package_digest(file_digests(folder), loading)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    model = load_model(folder)  # verifies the digest under the rules of that time
    assert model.manifest.classes is None
    assert all(c.nullable is None for c in model.signature.inputs)
    assert model.classes == [0, 1]  # the flavor's own record still names the classes
    assert model.predict(frame.head(3)).tolist() == sk_pipeline.predict(frame.head(3)).tolist()


def test_class_labels_and_nullability_are_covered_by_the_digest(sk_pipeline, loans, tmp_path):
    frame, _ = loans
    folder = tmp_path / "m"
    save_model(sk_pipeline, folder, input_example=frame.head(4), classes=["good", "bad"])
    path = folder / MANIFEST_NAME
    original = path.read_text()
    for edit in (
        lambda m: m.update(classes=["bad", "good"]),
        lambda m: m["signature"]["inputs"][0].update(nullable=True),
    ):
        manifest = json.loads(original)
        edit(manifest)
        path.write_text(json.dumps(manifest))
        with pytest.raises(IntegrityError):
            load_model(folder)
    path.write_text(original)
    assert load_model(folder).predict(frame.head(2)).dtype.kind == "U"


def test_a_model_fitted_on_encoded_labels_answers_with_the_labels(loans, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import LabelEncoder

    frame, y = loans
    x = frame[["amount", "rate"]]
    words = np.where(y == 1, "bad", "good")
    encoder = LabelEncoder().fit(words)  # classes_ ["bad", "good"] -> 0, 1
    model = LogisticRegression(max_iter=500).fit(x, encoder.transform(words))
    package = save_model(model, tmp_path / "m", input_example=x.head(5), classes=encoder)
    loaded = load_model(package.path)
    assert package.manifest.classes == ["bad", "good"] and loaded.classes == ["bad", "good"]
    expected = encoder.inverse_transform(model.predict(x))
    assert loaded.predict(x).tolist() == expected.tolist()
    assert package.signature.outputs[0].dtype.startswith("<U")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))


def test_labels_must_match_the_model_classes(numeric, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = numeric
    model = LogisticRegression(max_iter=500).fit(x, y)
    with pytest.raises(ValidationError, match="one label per class"):
        save_model(model, tmp_path / "a", input_example=x.head(3), classes=["a", "b", "c"])
    with pytest.raises(ValidationError, match="twice"):
        save_model(model, tmp_path / "b", input_example=x.head(3), classes=["a", "a"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_gradient_boosting_classes_become_labels(library, numeric, tmp_path) -> None:
    lib = pytest.importorskip(library)
    x, y = numeric
    words = np.where(y == 1, "bad", "good")
    if library == "lightgbm":  # its scikit-learn wrapper takes string labels itself
        model = lib.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, words)
        package = save_model(model, tmp_path / "m", input_example=x.head(5))
    else:  # XGBoost needs 0..k-1: the caller encodes, the package records the labels
        model = lib.XGBClassifier(n_estimators=10).fit(x, (words == "good").astype(int))
        package = save_model(
            model, tmp_path / "m", input_example=x.head(5), classes=["bad", "good"]
        )
    assert package.manifest.classes == ["bad", "good"]
    loaded = load_model(package.path)
    predicted = loaded.predict(x)
    assert set(predicted.tolist()) <= {"bad", "good"}
    proba = loaded.predict_proba(x)
    assert predicted.tolist() == np.where(proba[:, 1] > 0.5, "good", "bad").tolist()
