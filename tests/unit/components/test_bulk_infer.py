"""``bulk_infer``: batch prediction as a pipeline step, on frames and Parquet paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mloop.models
from mloop import pipeline, step
from mloop.components.bulk_infer import bulk_infer, bulk_predict
from mloop.errors import ValidationError
from mloop.metadata.entities import RunState


def _frame(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "color": rng.choice(["r", "g"], n).astype(object)}
    )
    return frame, (frame["x"] > 0).astype(int).to_numpy()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, labels = _frame(80)
    prep = ColumnTransformer([("x", "passthrough", ["x"]), ("c", OneHotEncoder(), ["color"])])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, labels)
    mloop.models.save_model(model, tmp_path / "pkg", input_example=frame.head(5))
    return tmp_path / "pkg"


def test_bulk_predict_in_chunks_equals_one_predict(package: Path, tmp_path: Path) -> None:
    frame, _ = _frame(45)
    frame.to_parquet(tmp_path / "in.parquet")
    expected = mloop.models.load_model(package).predict(frame)
    from_frame = bulk_predict(str(package), frame, chunk_size=10, with_proba=True)
    from_path = bulk_predict(str(package), tmp_path / "in.parquet", chunk_size=7)
    assert from_frame.column("prediction").to_pylist() == list(expected)
    assert from_path.column("prediction").to_pylist() == list(expected)
    assert {"proba_0", "proba_1"} <= set(from_frame.column_names)


def test_bad_inputs_are_refused(package: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        bulk_predict(str(package), "nowhere.parquet")
    with pytest.raises(ValidationError, match="not supported"):
        bulk_predict(str(package), [1, 2, 3])
    with pytest.raises(ValidationError, match="lacks the column"):
        bulk_predict(str(package), pd.DataFrame({"x": [1.0]}))


@step
def scoring_data(n: int = 20) -> pd.DataFrame:
    return _frame(n)[0]


@pipeline
def scoring(model_path: str, n: int = 20):
    bulk_infer(model_path, scoring_data(n), chunk_size=8)


def test_bulk_infer_runs_as_a_pipeline_step(package: Path, project_dir: Path) -> None:
    handle = scoring.run(model_path=str(package), n=20)
    assert handle.state is RunState.SUCCEEDED
    table = handle.outputs["bulk_infer"]
    assert table.num_rows == 20 and "prediction" in table.column_names
