"""Promotion tolerance does not ratchet: each candidate may lose ``tolerance`` to the version in
production, but not to the best version the alias pointed at before (issue 17.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import mloop.models
from mloop.components.evaluate import evaluate_model
from mloop.evaluation import ValidationSpec, bless, evaluate_predictions
from mloop.registry import default_registry


def _data(seed: int, rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = (x @ np.array([1.0, 0.8, 0.6]) + rng.normal(0, 1.0, rows) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y})


def _package(train: pd.DataFrame, lost: int, path) -> mloop.models.ModelPackage:
    """A model that learnt nothing from its last ``lost`` features (shuffled in training), so
    each one more lost is a small step down."""
    rng = np.random.default_rng(5)
    x = train[["a", "b", "c"]].copy()
    for col in ["c", "b", "a"][:lost]:
        x[col] = rng.permutation(x[col].to_numpy())
    model = LogisticRegression().fit(x, train["label"])
    return mloop.models.save_model(model, path, input_example=train[["a", "b", "c"]].head(5))


def test_bless_judges_against_the_best_reference() -> None:
    y = np.array([0, 1] * 50)
    base = evaluate_predictions(y, np.where(y == 1, 0.6, 0.4), model="v2")
    best = evaluate_predictions(y, np.where(y == 1, 0.9, 0.1), model="v1")
    spec = ValidationSpec.from_dict({"tolerance": {"log_loss": 0.2}})
    cand = evaluate_predictions(y, np.where(y == 1, 0.55, 0.45), model="v3")
    alone = bless(cand, spec, base)
    assert alone.blessed  # within 0.2 of production's log loss
    chained = bless(cand, spec, base, [best])
    assert not chained.blessed
    (check,) = [c for c in chained.checks if c.kind == "best"]
    assert "best earlier version" in check.reason and "(v1)" in check.reason


def test_a_chain_of_small_losses_is_refused(project_dir) -> None:
    train, test = _data(1), _data(2, rows=4000)
    registry = default_registry()
    packages = [_package(train, noise, project_dir / f"p{i}") for i, noise in enumerate([0, 1, 2])]
    scores = []
    for pkg in packages:
        pred = pkg.load().predict_proba(test[["a", "b", "c"]])[:, 1]
        scores.append(evaluate_predictions(test["label"], pred).metrics["roc_auc"])
    steps = [scores[0] - scores[1], scores[1] - scores[2]]
    assert all(s > 0 for s in steps) and min(steps) > 0.1 * max(steps)  # a real chain
    tol = max(steps) * 1.01  # every single step is within tolerance, the sum is not
    spec = {"tolerance": {"roc_auc": tol}}

    v1 = registry.register_model("m", packages[0].path)
    registry.set_alias("m", "production", v1.version, reason="first")
    _, second, _ = evaluate_model(
        packages[1], test, "label", baseline="models:/m@production", thresholds=spec
    )
    assert second.blessed
    v2 = registry.register_model("m", packages[1].path)
    registry.set_alias("m", "production", v2.version, reason="within tolerance")
    _, third, _ = evaluate_model(
        packages[2], test, "label", baseline="models:/m@production", thresholds=spec
    )
    baseline_check = next(c for c in third.checks if c.kind == "baseline")
    assert baseline_check.passed  # one step down from v2 alone would pass
    assert not third.blessed
    assert any("best earlier version" in r and "(v1)" in r for r in third.reasons)
    assert scores[0] - scores[2] == pytest.approx(sum(steps))


def test_a_version_rolled_back_from_is_no_reference(project_dir) -> None:
    train, test = _data(1), _data(2, rows=2000)
    registry = default_registry()
    good, weak = _package(train, 0, project_dir / "g"), _package(train, 2, project_dir / "w")
    v1 = registry.register_model("m", good.path)
    v2 = registry.register_model("m", weak.path)
    registry.set_alias("m", "production", v2.version, reason="start")
    registry.set_alias("m", "production", v1.version, reason="try the better one")
    registry.rollback("m", "production", reason="v1 misbehaved live")
    assert registry.alias_version("m", "production") == v2.version
    _, verdict, _ = evaluate_model(
        weak,
        test,
        "label",
        baseline="models:/m@production",
        thresholds={"tolerance": {"roc_auc": 0.0}},
    )
    assert verdict.blessed and not [c for c in verdict.checks if c.kind == "best"]
