"""train -> tune -> evaluate as pipeline steps: the package is a Model artifact carrying the
step's code digest, tune records each trial as a child execution with its score at the trial
number, and evaluate outputs Evaluation, Blessing and Report artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna")

from mloop import pipeline, step
from mloop.components.evaluate import evaluate
from mloop.components.train import train
from mloop.components.tune import tune
from mloop.config import load_settings
from mloop.metadata import connect


@step(outputs=("train_part", "test_part"))
def make_data(rows: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    frame = pd.DataFrame(
        {
            "x": x,
            "region": rng.choice(["n", "s"], rows).astype(object),
            "label": np.where(x + rng.normal(0, 0.7, rows) > 0, "bad", "good"),
        }
    )
    return frame.iloc[: rows * 2 // 3], frame.iloc[rows * 2 // 3 :]


@pipeline(experiment="components")
def modelling(trials: int = 4) -> None:
    train_part, test_part = make_data()
    best = tune(
        train_part,
        test_part,
        label="label",
        positive="bad",
        search_space={"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
        n_trials=trials,
    )
    model = train(train_part, label="label", positive="bad", params={"C": 1.0})
    evaluate(
        model,
        test_part,
        label="label",
        positive="bad",
        slice_by=["region"],
        baseline="models:/m@production",
        thresholds={"floors": {"roc_auc": 0.6}},
        min_slice_rows=10,
    )
    _ = best


def test_components_record_models_trials_and_evaluations(project_dir):
    handle = modelling.run(trials=4)
    assert handle.state.value == "succeeded"
    store = connect(load_settings().metadata_url)
    executions = {e.step_name: e for e in store.list_executions(handle.id)}
    trials = sorted(n for n in executions if n.startswith("tune.trial-"))
    assert trials == [f"tune.trial-{i:03d}" for i in range(4)]
    assert all(executions[t].state.value == "succeeded" for t in trials)
    scores = [
        m
        for m in store.get_metrics(handle.id, "roc_auc")
        if m.execution_id in {executions[t].id for t in trials}
    ]
    assert sorted(m.step for m in scores) == [0, 1, 2, 3]
    best: dict[str, Any] = handle.outputs["tune"]
    assert 0.01 <= best["best_params"]["C"] <= 10.0
    assert best["best_score"] == pytest.approx(max(m.value for m in scores))

    types = {a.type for a in handle.artifacts("train").values()}
    assert types == {"Model"}
    model = handle.outputs["train"]
    assert model.manifest.code_digest == executions["train"].code_digest
    evaluation = handle.artifacts("evaluate")
    assert {a.type for a in evaluation.values()} == {"Evaluation", "Blessing", "Report"}
    blessing = handle.outputs["evaluate"]["blessing"]
    assert blessing.blessed and blessing.baseline is None  # nothing in production yet
