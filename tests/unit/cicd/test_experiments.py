"""``mloop experiments show``: live champion vs canary from the prediction log and feedback
(shadow rows left out), the decision, and ``--act`` moving the alias with its reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mloop.cicd.experiments.comparison import analyse_experiment
from mloop.cli.main import app

MODEL = "churn"
runner = CliRunner()


def serve_rows(
    log_dir: Path,
    route: str,
    version: str,
    rows: int,
    accuracy: float,
    *,
    seed: int,
    labelled: float = 1.0,
    at: datetime | None = None,
) -> None:
    """Log ``rows`` one-row requests as the service does, ``accuracy`` of them right, and send
    labels for a ``labelled`` share of them."""
    from mloop.serving.logs.feedback import FeedbackRecord, feedback_rows
    from mloop.serving.logs.prediction_log import ParquetLog, PredictionRecord, prediction_rows

    rng = np.random.default_rng(seed)
    start = (at or datetime.now(timezone.utc) - timedelta(hours=1)).timestamp()
    log = ParquetLog(log_dir / "predictions", lambda r: (r.model, r.timestamp, prediction_rows(r)))
    feedback = ParquetLog(log_dir / "feedback", feedback_rows)
    for i in range(rows):
        label = int(rng.random() < 0.5)
        prediction = label if rng.random() < accuracy else 1 - label
        rid = f"{route}-{seed}-{i}"
        log.put(
            PredictionRecord(
                model=MODEL,
                version=version,
                route=route,
                request_id=rid,
                timestamp=start + i * 0.5,
                latency_ms=3.0,
                inputs={"x": np.array([float(i)])},
                predictions=np.array([prediction]),
                probabilities=None,
            )
        )
        if rng.random() < labelled:
            feedback.put(FeedbackRecord(MODEL, rid, [label], start + i * 0.5 + 30))
    log.close()
    feedback.close()


def test_a_clearly_better_canary_is_promoted_and_shadow_rows_do_not_count(tmp_path: Path) -> None:
    serve_rows(tmp_path, "champion", "1", 1500, 0.75, seed=1)
    serve_rows(tmp_path, "canary", "2", 600, 0.92, seed=2)
    serve_rows(tmp_path, "shadow", "3", 400, 0.10, seed=3)  # would sink the canary if counted
    result = analyse_experiment(tmp_path, MODEL)
    assert result.decision == "promote", result.reason
    assert result.shadow_rows_ignored == 400
    champion, canary = result.arms["champion"], result.arms["canary"]
    assert (champion.versions, canary.versions) == (["1"], ["2"])
    assert canary.predictions == canary.labelled == 600
    assert canary.accuracy_ci[0] < canary.accuracy < canary.accuracy_ci[1]
    assert result.difference is not None and result.difference_ci is not None
    assert result.difference_ci[0] < result.difference < result.difference_ci[1]
    assert result.difference_ci[0] > 0 and result.p_value <= 0.05 and result.looks > 10


def test_a_worse_canary_is_rolled_back(tmp_path: Path) -> None:
    serve_rows(tmp_path, "champion", "1", 1500, 0.9, seed=4)
    serve_rows(tmp_path, "canary", "2", 600, 0.7, seed=5)
    result = analyse_experiment(tmp_path, MODEL)
    assert result.decision == "rollback" and "worse" in result.reason


def test_equal_arms_or_few_labels_continue(tmp_path: Path) -> None:
    serve_rows(tmp_path, "champion", "1", 800, 0.8, seed=6)
    serve_rows(tmp_path, "canary", "2", 300, 0.8, seed=7, labelled=0.05)
    result = analyse_experiment(tmp_path, MODEL)
    assert result.decision == "continue" and "not enough labelled rows" in result.reason
    serve_rows(tmp_path, "canary", "2", 300, 0.8, seed=8, labelled=1.0)
    assert analyse_experiment(tmp_path, MODEL).decision == "continue"


def test_rows_outside_the_window_are_left_out(tmp_path: Path) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=3)
    serve_rows(tmp_path, "champion", "1", 300, 0.9, seed=9, at=old)
    serve_rows(tmp_path, "canary", "2", 300, 0.5, seed=10, at=old)
    result = analyse_experiment(tmp_path, MODEL, window=timedelta(days=1))
    assert result.arms["champion"].predictions == 0 and result.decision == "continue"
    assert analyse_experiment(tmp_path, MODEL).arms["champion"].predictions == 300


def register_two_versions(project_dir: Path) -> object:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.models import save_model
    from mloop.registry import ModelRegistry

    settings = load_settings(project_dir)
    registry = ModelRegistry(
        connect(settings.metadata_url), connect_artifacts(settings.artifact_root)
    )
    x = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    for c in (1.0, 2.0):
        package = save_model(
            LogisticRegression(C=c).fit(x, [0, 0, 1, 1]), project_dir / f"m{c}", input_example=x
        )
        registry.register_model(MODEL, package)
    registry.set_alias(MODEL, "production", 1, reason="first")
    return registry


def test_act_promotes_the_canary_with_a_recorded_reason(project_dir: Path) -> None:
    registry = register_two_versions(project_dir)
    serve_rows(project_dir / ".mloop", "champion", "1", 1500, 0.75, seed=1)
    serve_rows(project_dir / ".mloop", "canary", "2", 600, 0.92, seed=2)
    result = runner.invoke(
        app, ["experiments", "show", MODEL, "--act", "--alias", "production", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "promote" and data["action"] == f"{MODEL}@production moved v1 -> v2"
    assert registry.alias_version(MODEL, "production") == 2  # type: ignore[attr-defined]
    last = registry.alias_history(MODEL, "production")[-1]  # type: ignore[attr-defined]
    assert last.reason.startswith("online experiment: the canary is better")


def test_act_rolls_back_a_promoted_canary_that_turns_out_worse(project_dir: Path) -> None:
    registry = register_two_versions(project_dir)
    registry.set_alias(MODEL, "production", 2, reason="early promotion")  # type: ignore[attr-defined]
    serve_rows(project_dir / ".mloop", "champion", "1", 1500, 0.9, seed=4)
    serve_rows(project_dir / ".mloop", "canary", "2", 600, 0.7, seed=5)
    result = runner.invoke(app, ["experiments", "show", MODEL, "--act", "--alias", "production"])
    assert result.exit_code == 0, result.output
    assert "rollback" in result.stdout and "rolled back v2 -> v1" in result.stdout
    assert registry.alias_version(MODEL, "production") == 1  # type: ignore[attr-defined]


def test_bad_options_are_usage_errors(project_dir: Path) -> None:
    assert runner.invoke(app, ["experiments", "show", MODEL, "--window", "soon"]).exit_code == 2
    with pytest.raises(Exception, match="alpha"):
        analyse_experiment(project_dir, MODEL, alpha=1.5)
