"""The standard components are plain function calls outside a pipeline, as the docs say:
no "no active run" error from the tracking calls inside them (issue 17.9)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import mloop
from mloop.components.evaluate import evaluate
from mloop.components.push import push
from mloop.components.schema import infer_schema
from mloop.components.statistics import statistics
from mloop.components.train import train
from mloop.components.validate import validate
from mloop.errors import ValidationError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    label = np.where(x + rng.normal(0, 0.5, 300) > 0, "bad", "good")
    return pd.DataFrame({"x": x, "label": label})


def test_components_run_as_plain_calls(project_dir, frame, caplog) -> None:
    stats = statistics(frame)
    assert stats["x"].numeric.mean == pytest.approx(frame["x"].mean())  # as the docs say
    anomalies = validate(stats, infer_schema(stats))
    assert not anomalies.items
    model = train(frame, label="label", positive="bad")
    with caplog.at_level(logging.INFO, logger="mloop.tracking"):
        evaluation, blessing, _ = evaluate(model, frame, label="label", positive="bad")
    assert evaluation.metrics["roc_auc"] > 0.8 and blessing.blessed
    assert "log_metrics in step 'evaluate' called outside a run: not recorded" in caplog.text


def test_inside_a_run_the_plain_call_records(project_dir, frame) -> None:
    model = train(frame, label="label", positive="bad")
    with mloop.start_run(experiment="plain") as run:
        evaluate(model, frame, label="label", positive="bad")
    metrics = run.store.get_metrics(run.id, "roc_auc")
    assert metrics and metrics[0].value > 0.8


def test_push_as_a_plain_call_registers(project_dir, frame) -> None:
    from mloop.components.infra_validate import InfraBlessing

    model = train(frame, label="label", positive="bad")
    _, blessing, _ = evaluate(model, frame, label="label", positive="bad")
    infra = InfraBlessing(blessed=True, reasons=[], requests=20, mismatches=0)
    decision = push(model, blessing, infra, name="plain", alias="production")
    assert decision["outcome"] == "promoted" and decision["version"] == 1


def test_tracking_outside_any_step_and_run_still_raises(project_dir) -> None:
    with pytest.raises(ValidationError, match="no active run"):
        mloop.log_metrics({"auc": 0.8})
