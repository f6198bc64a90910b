"""Train a loan-default classifier on the Lending Club loans of early 2016.

Four steps, each an ``@step`` whose outputs mloop stores as artifacts (frames as Parquet, the
fitted scikit-learn model with pickle, the metrics as JSON) and caches by code, parameters and
inputs: ``ingest`` -> ``split`` -> ``train`` -> ``evaluate``.

    mloop run training                                    # from this folder (see mloop.yaml)
    mloop run pipelines/training.py:training -p C=0.3 -p model_type=hist_gradient_boosting
"""

from __future__ import annotations

from typing import Any

import polars as pl

import mloop
from mloop import pipeline, step

TARGET = "Class"
POSITIVE = "bad"  # the class we predict: the loan was not repaid
CATEGORICAL = ["term", "sub_grade", "addr_state", "verification_status", "emp_length"]
MODEL_TYPES = ("logistic_regression", "hist_gradient_boosting")


@step
def ingest(path: str) -> pl.DataFrame:
    """Read the loans and check the columns the later steps rely on are there."""
    data = pl.read_parquet(path)
    missing = sorted({TARGET, *CATEGORICAL} - set(data.columns))
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; is it the Lending Club data?")
    return data


@step(outputs=("train", "test"))
def split(
    data: pl.DataFrame, test_size: float = 0.25, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stratified, seeded train/test split: both parts keep the share of bad loans (~5 %)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    rows = np.arange(data.height)
    train_rows, test_rows = train_test_split(
        rows, test_size=test_size, stratify=data[TARGET].to_numpy(), random_state=seed
    )
    return data[np.sort(train_rows)], data[np.sort(test_rows)]


@step(allow_pickle=True)
def train(
    train: pl.DataFrame, model_type: str = "logistic_regression", C: float = 0.1, seed: int = 42
) -> Any:
    """Fit one-hot encoding of the categoricals, scaling of the numbers, and a classifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type {model_type!r} is not one of {MODEL_TYPES}")
    numeric = [c for c in train.columns if c not in (*CATEGORICAL, TARGET)]
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL,
            ),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    if model_type == "logistic_regression":
        classifier: Any = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    else:
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, random_state=seed
        )
    model = Pipeline([("encode", encode), ("classify", classifier)])
    features, labels = _features_and_labels(train)
    return model.fit(features, labels)


@step
def evaluate(model: Any, test: pl.DataFrame) -> dict[str, float]:
    """Score the hold-out loans; the metrics are logged on the run and returned as an artifact."""
    from sklearn.metrics import accuracy_score, average_precision_score, log_loss, roc_auc_score

    features, labels = _features_and_labels(test)
    probability = model.predict_proba(features)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(labels, probability)),
        "pr_auc": float(average_precision_score(labels, probability)),
        "accuracy": float(accuracy_score(labels, probability >= 0.5)),
        "log_loss": float(log_loss(labels, probability)),
        "test_rows": float(len(labels)),
        "test_bad_share": float(labels.mean()),
    }
    mloop.log_metrics(metrics)
    return metrics


@pipeline(experiment="lending_club")
def training(
    source: str = "data/lending_club.parquet",
    test_size: float = 0.25,
    seed: int = 42,
    model_type: str = "logistic_regression",
    C: float = 0.1,
) -> None:
    """ingest -> split -> train -> evaluate; relative paths are read from the project folder."""
    loans = ingest(source)
    train_part, test_part = split(loans, test_size=test_size, seed=seed)
    model = train(train_part, model_type=model_type, C=C, seed=seed)
    evaluate(model, test_part)


def _features_and_labels(frame: pl.DataFrame) -> tuple[Any, Any]:
    """scikit-learn inputs: a pandas frame of the features and 1 for a bad loan, else 0."""
    labels = (frame[TARGET] == POSITIVE).cast(pl.Int8).to_numpy()
    return frame.drop(TARGET).to_pandas(), labels
