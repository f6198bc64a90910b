"""Train, validate and promote a loan-default classifier on the Lending Club loans of early 2016.

    ingest -> split -> train -> evaluate (slices: term, region; vs models:/lending_club@production)
                            \\-> infra_validate (serve the package in a fresh process) -> push

``push`` registers the candidate and moves the ``production`` alias only when it is blessed
(no worse than production overall nor in any slice, above the floors) and infra-blessed;
otherwise the run records why not (``mloop runs show``, ``mloop models show lending_club``).

    mloop run training                                     # from this folder (see mloop.yaml)
    mloop run training -p model_type=hist_gradient_boosting
    mloop run training -p sample=0.5                       # changed data: half of the loans
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mloop import pipeline, step
from mloop.components.evaluate import evaluate
from mloop.components.infra_validate import infra_validate
from mloop.components.push import push
from mloop.components.train import train

MODEL_NAME = "lending_club"
TARGET = "Class"
POSITIVE = "bad"  # the class we predict: the loan was not repaid
CATEGORICAL = ["term", "sub_grade", "addr_state", "verification_status", "emp_length"]
ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "logistic_regression": (
        "sklearn.linear_model:LogisticRegression",
        {"max_iter": 2000, "class_weight": "balanced"},
    ),
    "hist_gradient_boosting": (
        "sklearn.ensemble:HistGradientBoostingClassifier",
        {"max_iter": 200, "learning_rate": 0.05},
    ),
    "lightgbm": ("lightgbm:LGBMClassifier", {"n_estimators": 200, "verbose": -1}),
}
# US census regions: the evaluation is sliced by them (50 states are too many small slices).
REGIONS = {
    "northeast": "CT ME MA NH RI VT NJ NY PA",
    "midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
    "south": "DE FL GA MD NC SC VA DC WV AL KY MS TN AR LA OK TX",
    "west": "AZ CO ID MT NV NM UT WY AK CA HI OR WA",
}
THRESHOLDS = {
    "floors": {"roc_auc": 0.60},
    "tolerance": {"roc_auc": 0.005},  # overall: at most 0.005 worse than production
    "slice_tolerance": {"roc_auc": 0.03},  # and at most 0.03 worse in any term or region
}


@step
def ingest(path: str, sample: float = 1.0, seed: int = 42) -> pl.DataFrame:
    """Read the loans (a seeded ``sample`` share of them: changed data for the demo) and check
    the columns the later steps rely on are there."""
    data = pl.read_parquet(path)
    missing = sorted({TARGET, *CATEGORICAL} - set(data.columns))
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; is it the Lending Club data?")
    if not 0.0 < sample <= 1.0:
        raise ValueError(f"sample must be in (0, 1], got {sample}")
    return data if sample == 1.0 else data.sample(fraction=sample, seed=seed)


@step(outputs=("train", "test"))
def split(
    data: pl.DataFrame, test_size: float = 0.25, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stratified, seeded train/test split: both parts keep the share of bad loans (~5 %).
    The test part gets a ``region`` column to slice the evaluation by (not a model feature)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    rows = np.arange(data.height)
    train_rows, test_rows = train_test_split(
        rows, test_size=test_size, stratify=data[TARGET].to_numpy(), random_state=seed
    )
    region_of = {s: r for r, states in REGIONS.items() for s in states.split()}
    test = data[np.sort(test_rows)].with_columns(
        pl.col("addr_state").replace_strict(region_of, default="other").alias("region")
    )
    return data[np.sort(train_rows)], test


@pipeline(experiment="lending_club")
def training(
    source: str = "data/lending_club.parquet",
    sample: float = 1.0,
    test_size: float = 0.25,
    seed: int = 42,
    model_type: str = "logistic_regression",
    C: float = 0.1,
    alias: str = "production",
) -> None:
    """ingest -> split -> train -> evaluate + infra_validate -> push (see the module doc)."""
    if model_type not in ESTIMATORS:
        raise ValueError(f"model_type {model_type!r} is not one of {sorted(ESTIMATORS)}")
    estimator, params = ESTIMATORS[model_type]
    if model_type == "logistic_regression":
        params = {**params, "C": C}
    elif model_type != "logistic_regression":
        params = {**params, "random_state": seed}
    loans = ingest(source, sample=sample, seed=seed)
    train_part, test_part = split(loans, test_size=test_size, seed=seed)
    model = train(train_part, label=TARGET, positive=POSITIVE, estimator=estimator, params=params)
    _, blessing, _ = evaluate(
        model,
        test_part,
        label=TARGET,
        positive=POSITIVE,
        slice_by=["term", "region"],
        baseline=f"models:/{MODEL_NAME}@{alias}",
        thresholds=THRESHOLDS,
    )
    infra = infra_validate(model, test_part, max_p95_ms=1000.0)  # ms; generous for laptops
    push(model, blessing, infra, name=MODEL_NAME, alias=alias)
