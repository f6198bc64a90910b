"""Small frames and fitted models shared by the model package tests (a few hundred rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def loans() -> tuple[pd.DataFrame, np.ndarray]:
    """Mixed-type features (strings, ints, floats) and a 0/1 label that depends on them."""
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame(
        {
            "term": rng.choice(["36", "60"], n).astype(object),
            "grade": rng.choice(["A", "B", "C"], n).astype(object),
            "amount": rng.integers(1_000, 30_000, n).astype("int64"),
            "rate": rng.uniform(5, 25, n),
        }
    )
    score = frame["rate"] / 25 + (frame["term"] == "60") * 0.3 + rng.normal(0, 0.2, n)
    return frame, (score > 0.75).to_numpy().astype(int)


@pytest.fixture(scope="module")
def numeric(loans: tuple[pd.DataFrame, np.ndarray]) -> tuple[pd.DataFrame, np.ndarray]:
    frame, y = loans
    return frame[["amount", "rate"]], y


@pytest.fixture(scope="module")
def sk_pipeline(loans: tuple[pd.DataFrame, np.ndarray]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = loans
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["term", "grade"]),
            ("num", StandardScaler(), ["amount", "rate"]),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression())]).fit(frame, y)
