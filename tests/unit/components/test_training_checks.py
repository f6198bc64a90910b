"""The train component fails clearly when training does not converge or predicts NaN/inf, and
otherwise outputs a model package whose code digest is the training step's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mloop.components.train import build_estimator, fit_checked, train_model
from mloop.components.training_checks import check_curve
from mloop.errors import TrainingCheckError, ValidationError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 200
    data = pd.DataFrame(
        {
            "size": rng.uniform(0, 1e6, n),  # unscaled on purpose
            "kind": rng.choice(["a", "b"], n).astype(object),
            "noise": rng.normal(size=n),
        }
    )
    data["label"] = np.where(data["size"] + (data["kind"] == "a") * 3e5 > 6e5, "bad", "good")
    return data


def test_a_solver_that_stops_early_fails_the_step(frame):
    from sklearn.linear_model import LogisticRegression

    x, y = frame[["size", "noise"]], (frame["label"] == "bad").astype(int)
    with pytest.raises(TrainingCheckError, match="did not converge"):
        fit_checked(LogisticRegression(max_iter=1), x, y)


def test_a_learning_curve_that_does_not_improve_fails():
    check_curve([0.7, 0.6, 0.5], "loss", lower_is_better=True)  # improving: fine
    with pytest.raises(TrainingCheckError, match="did not improve over 3 iterations"):
        check_curve([0.5, 0.5, 0.51], "loss", lower_is_better=True)
    with pytest.raises(TrainingCheckError, match="did not improve"):
        check_curve([0.8, 0.7, 0.8], "auc", lower_is_better=False)
    with pytest.raises(TrainingCheckError, match="iteration 2"):
        check_curve([0.7, 0.6, float("nan")], "loss", lower_is_better=True)


def test_mlp_with_zero_learning_rate_does_not_converge(frame):
    from sklearn.neural_network import MLPClassifier

    x, y = frame[["noise"]], (frame["label"] == "bad").astype(int)
    frozen = MLPClassifier(
        hidden_layer_sizes=(3,),
        learning_rate_init=1e-12,
        max_iter=5,
        n_iter_no_change=100,
        random_state=0,
    )
    with pytest.raises(TrainingCheckError):  # the loss curve stays flat (or the solver warns)
        fit_checked(frozen, x, y)


class _NanModel:
    def fit(self, x, y):
        return self

    def predict(self, x):
        return np.full(len(x), np.nan)

    def get_params(self, deep=True):
        return {}


def test_nan_predictions_fail_the_step(frame):
    with pytest.raises(TrainingCheckError, match="NaN or infinite"):
        fit_checked(_NanModel(), frame[["noise"]], np.arange(len(frame)) % 2)


def test_single_class_labels_fail(frame):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TrainingCheckError, match="single class"):
        fit_checked(LogisticRegression(), frame[["noise"]], np.zeros(len(frame), dtype=int))


def test_train_model_packages_a_checked_model(frame):
    model = build_estimator(
        "sklearn.linear_model:LogisticRegression",
        {"C": 1.0},
        preprocess="auto",
        frame=frame.drop(columns="label"),
    )
    pkg = train_model(model, frame, "label", positive="bad", code_digest="d1")
    loaded = pkg.load()
    assert pkg.manifest.code_digest == "d1" and pkg.signature.input_names == [
        "size",
        "kind",
        "noise",
    ]
    assert loaded.predict_proba(frame.drop(columns="label")).shape == (len(frame), 2)


def test_bad_estimator_specs_are_refused(frame):
    with pytest.raises(ValidationError, match="cannot be imported"):
        build_estimator("sklearn.nothing:Here", None, preprocess="none", frame=frame)
    with pytest.raises(ValidationError, match="does not accept"):
        build_estimator(
            "sklearn.linear_model:LogisticRegression", {"bogus": 1}, preprocess="none", frame=frame
        )


def test_lightgbm_that_does_not_learn_fails_on_its_eval_curve(frame):
    lightgbm = pytest.importorskip("lightgbm")
    x, y = frame[["size", "noise"]], (frame["label"] == "bad").astype(int)
    # no leaf may hold fewer than 10,000 rows: no split is possible, the loss stays flat
    stuck = lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=10_000, verbose=-1)
    with pytest.raises(TrainingCheckError, match="valid_0:binary_logloss"):
        fit_checked(stuck, x, y, fit_params={"eval_X": (x,), "eval_y": (y,)})
    learns = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1)
    fit_checked(learns, x, y, fit_params={"eval_X": (x,), "eval_y": (y,)})


def test_tune_fails_clearly_when_every_trial_fails(frame):
    pytest.importorskip("optuna")
    from mloop.components.tune import tune_estimator

    with pytest.raises(ValidationError, match="every one of the 2 trials failed"):
        tune_estimator(
            "sklearn.linear_model:LogisticRegression",
            frame[["size", "label"]],
            frame[["size", "label"]],
            "label",
            positive="bad",
            search_space={"C": {"type": "float", "low": 0.1, "high": 1.0}},
            fixed_params={"max_iter": 1},
            preprocess="none",
            n_trials=2,
        )
    with pytest.raises(ValidationError, match="type 'grid'"):
        tune_estimator(
            "sklearn.linear_model:LogisticRegression",
            frame,
            frame,
            "label",
            search_space={"C": {"type": "grid"}},
            n_trials=1,
        )
