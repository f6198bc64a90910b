"""A registry on a fresh SQLite store and local artifact store, and small packages to put in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mloop.artifacts import connect as connect_artifacts
from mloop.metadata import connect
from mloop.models import ModelPackage, save_model
from mloop.registry import ModelRegistry


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(
        connect(f"sqlite:///{tmp_path}/mloop.db"), connect_artifacts(str(tmp_path / "artifacts"))
    )


@pytest.fixture
def make_package(tmp_path: Path) -> Any:
    """``make_package(c)``: a logistic regression with C=c, saved as a package."""
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.linspace(0, 1, 40), "b": np.tile([0.0, 1.0], 20)})
    y = (x["a"] + 0.3 * x["b"] > 0.6).astype(int)
    made: list[int] = []

    def make(c: float = 1.0) -> ModelPackage:
        made.append(1)
        model = LogisticRegression(C=c).fit(x, y)
        return save_model(model, tmp_path / f"pkg{len(made)}", input_example=x.head(3))

    return make
