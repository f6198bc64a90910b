"""The ``train`` component: fit any scikit-learn-compatible estimator (LightGBM and XGBoost
included) on a frame, check the fit, and output a model package.

    model = train(train_part, label="Class", positive="bad",
                  estimator="sklearn.linear_model:LogisticRegression", params={"C": 0.1})

``estimator`` is a dotted path ``module:Class`` so that it is a parameter (recorded, part of
the cache key); ``preprocess="auto"`` one-hot encodes string columns and scales numbers first,
after imputing missing values where the training data has any (the median of a number column,
a ``(missing)`` category for a string column).

The package records which inputs held missing values in the full training data (they are the
ones the served model accepts nulls in) and the class labels as the data had them: with
``positive="bad"`` the model is fitted on 1/0 but answers ``"bad"``/``"good"``, and string
labels are encoded to 0..k-1 before fitting (XGBoost needs that) and answered as strings.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mloop.components.model_artifacts import register_model_materializers
from mloop.components.training_checks import check_learning_curves, check_predictions_finite
from mloop.errors import TrainingCheckError, ValidationError
from mloop.models import ModelPackage, open_package, save_model
from mloop.pipelines.dsl import step

__all__ = [
    "build_estimator",
    "features_and_labels",
    "fit_checked",
    "train",
    "train_model",
]

register_model_materializers()

EXAMPLE_ROWS = 5
MISSING_CATEGORY = "(missing)"
"""What ``preprocess="auto"`` puts in place of a missing value in a string column."""


def build_estimator(
    estimator: str, params: Mapping[str, Any] | None, *, preprocess: str, frame: Any
) -> Any:
    """The unfitted estimator: ``module:Class(**params)``, behind a ColumnTransformer when
    ``preprocess == "auto"`` (one-hot for string columns, standard scaling for numbers, each
    group imputed first when ``frame`` holds a missing value in it)."""
    module_name, _, cls_name = estimator.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValidationError(
            f"estimator {estimator!r} cannot be imported ({exc}); give 'module:Class', e.g. "
            "'sklearn.linear_model:LogisticRegression' or 'lightgbm:LGBMClassifier'"
        ) from exc
    try:
        model = cls(**dict(params or {}))
    except TypeError as exc:
        raise ValidationError(
            f"{estimator} does not accept the params {dict(params or {})}: {exc}"
        ) from exc
    if preprocess == "none":
        return model
    if preprocess != "auto":
        raise ValidationError(f"preprocess {preprocess!r} is not 'auto' or 'none'")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    text = [
        c
        for c in frame.columns
        if frame[c].dtype.kind in "OUSb" or str(frame[c].dtype) in ("str", "string", "category")
    ]
    numbers = [c for c in frame.columns if c not in text]
    with_nulls = set(nullable_columns(frame))
    parts = []
    if text:
        encode: Any = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if with_nulls.intersection(text):
            fill = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
            encode = make_pipeline(fill, encode)
        parts.append(("categorical", encode, text))
    if numbers:
        scale: Any = StandardScaler()
        if with_nulls.intersection(numbers):
            scale = make_pipeline(SimpleImputer(strategy="median"), scale)
        parts.append(("numeric", scale, numbers))
    return Pipeline([("encode", ColumnTransformer(parts)), ("model", model)])


def nullable_columns(frame: Any) -> list[str]:
    """The columns of a pandas frame that hold a missing value (null or NaN)."""
    found = frame.isna().any()
    return [str(c) for c in frame.columns if found[c]]


def encode_labels(y: Any, *, original: Any = None, positive: Any = None) -> tuple[Any, Any]:
    """``(labels to fit on, class labels to record)``. With ``positive`` the fit labels are
    already 1/0 and the classes are ``[the other label, positive]`` (``"not <positive>"``
    when the column holds several others); string labels are encoded to 0..k-1 (sorted, as
    ``LabelEncoder`` does) and recorded; numbers and booleans are left as they are (None)."""
    import numpy as np

    if positive is not None:
        others = [] if original is None else [v for v in _distinct(original) if v != positive]
        negative = others[0] if len(others) == 1 else f"not {positive}"
        return y, [negative, positive]
    arr = np.asarray(y)
    if arr.dtype.kind in "biuf":
        return y, None
    if any(v is None or v != v for v in arr):
        raise ValidationError(
            "the label column holds missing values; drop those rows or fill them before training"
        )
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.astype("int64"), list(classes)


def _distinct(values: Any) -> list[Any]:
    import pandas as pd

    return [v.item() if hasattr(v, "item") else v for v in pd.unique(pd.Series(values).dropna())]


def features_and_labels(
    data: Any, label: str, *, positive: Any = None, features: Sequence[str] | None = None
) -> tuple[Any, Any]:
    """A pandas frame of the features and the label array (1/0 when ``positive`` is given)."""
    from mloop.models.package import as_pandas

    frame = as_pandas(data)
    if label not in frame.columns:
        raise ValidationError(
            f"the data has no label column {label!r}; it has {list(frame.columns)}"
        )
    y = frame[label].to_numpy()
    if positive is not None:
        y = (frame[label] == positive).to_numpy().astype("int8")
    cols = list(features) if features else [c for c in frame.columns if c != label]
    missing = sorted(set(cols) - set(frame.columns))
    if missing:
        raise ValidationError(f"the data lacks the feature columns {missing}")
    return frame[cols], y


def fit_checked(model: Any, x: Any, y: Any, *, fit_params: Mapping[str, Any] | None = None) -> Any:
    """Fit and run the training checks: a ConvergenceWarning, a learning curve that does not
    improve, or NaN/inf predictions fail with ``TrainingCheckError``."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    if len(np.unique(y)) < 2 and np.asarray(y).dtype.kind in "iub":
        raise TrainingCheckError("the training labels hold a single class; nothing to learn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y, **dict(fit_params or {}))
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            raise TrainingCheckError(
                f"training did not converge: {w.message}. Raise max_iter, scale the features "
                "or loosen the tolerance"
            )
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # keep the others
    check_learning_curves(model)
    check_predictions_finite(model, x)
    return model


def train_model(
    estimator: Any,
    data: Any,
    label: str,
    *,
    positive: Any = None,
    features: Sequence[str] | None = None,
    fit_params: Mapping[str, Any] | None = None,
    code_digest: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ModelPackage:
    """Fit ``estimator`` (an unfitted object) with the checks and package it (signature from
    the first rows, nullability from all of them, class labels as the data had them) in a
    private temporary folder."""
    from mloop.models.package import as_pandas

    x, y = features_and_labels(data, label, positive=positive, features=features)
    original = as_pandas(data)[label].to_numpy() if positive is not None else None
    y, classes = encode_labels(y, original=original, positive=positive)
    fitted = fit_checked(estimator, x, y, fit_params=fit_params)
    scratch = Path(tempfile.mkdtemp(prefix="mloop-train-"))
    try:
        package = save_model(
            fitted,
            scratch / "model",
            input_example=x.head(EXAMPLE_ROWS),
            code_digest=code_digest,
            metadata={"label": label, "positive": positive, **dict(metadata or {})},
            nullable=nullable_columns(x),
            classes=classes,
        )
        return open_package(package.path, copy=True)  # a copy that lives as long as the object
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # every training run left one behind


@step
def train(
    data: Any,
    label: str,
    positive: str | None = None,
    estimator: str = "sklearn.linear_model:LogisticRegression",
    params: dict[str, Any] | None = None,
    features: list[str] | None = None,
    preprocess: str = "auto",
) -> ModelPackage:
    """Fit ``estimator`` with ``params`` on ``data`` and output the checked model package."""
    from mloop.components.run_links import current_links

    x, _ = features_and_labels(data, label, positive=positive, features=features)
    model = build_estimator(estimator, params, preprocess=preprocess, frame=x)
    links = current_links()
    return train_model(
        model,
        data,
        label,
        positive=positive,
        features=features,
        code_digest=links.code_digest(),
        metadata={"run_id": links.run_id, "estimator": estimator, "params": params or {}},
    )
