"""The ``tune`` component: an Optuna study over an estimator's hyperparameters.

Each trial is recorded as a child execution of the tune step's run (step name
``<step>.trial-NNN``, its params, state succeeded/failed with the reason) with its score logged
as a metric at ``step`` = trial number, so ``mloop runs show`` lists the trials and the metric
history plots the search. The step's output is the best parameters (a dict).

The search space is declarative (it is a parameter, recorded and cached)::

    {"C": {"type": "float", "low": 1e-3, "high": 10, "log": true},
     "max_depth": {"type": "int", "low": 2, "high": 8},
     "penalty": {"type": "categorical", "choices": ["l2", null]}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mloop.components.model_artifacts import register_model_materializers
from mloop.components.run_links import current_links
from mloop.components.train import build_estimator, features_and_labels, fit_checked
from mloop.errors import MloopError, ValidationError
from mloop.evaluation.metrics import HIGHER_IS_BETTER, classification_metrics, regression_metrics
from mloop.pipelines.dsl import step

__all__ = ["suggest", "tune", "tune_estimator"]

register_model_materializers()


def suggest(trial: Any, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Parameters for one trial from the declarative ``space`` (see the module doc)."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec.get("type")
        if kind == "float":
            params[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False))
            )
        elif kind == "int":
            params[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log", False))
            )
        elif kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        else:
            raise ValidationError(
                f"search space entry {name!r} has type {kind!r}; use float, int or categorical"
            )
    return params


def tune_estimator(
    estimator: str,
    train: Any,
    valid: Any,
    label: str,
    *,
    search_space: Mapping[str, Mapping[str, Any]],
    positive: Any = None,
    fixed_params: Mapping[str, Any] | None = None,
    metric: str = "roc_auc",
    n_trials: int = 20,
    seed: int = 0,
    preprocess: str = "auto",
    trial_prefix: str = "tune",
) -> dict[str, Any]:
    """Run the study; returns ``{"best_params", "best_score", "metric", "trials"}``.

    A trial whose fit fails a training check (no convergence, NaN) is recorded as failed and
    scored as the worst value, so the study goes on."""
    import optuna

    if not search_space:
        raise ValidationError("tune needs a non-empty search_space")
    if n_trials < 1:
        raise ValidationError(f"n_trials must be >= 1, got {n_trials}")
    higher = HIGHER_IS_BETTER.get(metric, True)
    x_train, y_train = features_and_labels(train, label, positive=positive)
    x_valid, y_valid = features_and_labels(valid, label, positive=positive)
    links = current_links()
    log = _trial_recorder(links, trial_prefix, metric)

    def objective(trial: Any) -> float:
        params = {**dict(fixed_params or {}), **suggest(trial, search_space)}
        try:
            model = build_estimator(estimator, params, preprocess=preprocess, frame=x_train)
            fit_checked(model, x_train, y_train)
            score = _score(model, x_valid, y_valid, metric)
        except MloopError as exc:
            log(trial.number, params, None, str(exc))
            return -math.inf if higher else math.inf
        log(trial.number, params, score, None)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if higher else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    study.optimize(objective, n_trials=n_trials)
    if not math.isfinite(study.best_value):
        raise ValidationError(
            f"every one of the {n_trials} trials failed its training checks; widen or fix the "
            "search space (see the failed trial executions for the reasons)"
        )
    return {
        "best_params": {**dict(fixed_params or {}), **study.best_params},
        "best_score": float(study.best_value),
        "metric": metric,
        "trials": len(study.trials),
    }


def _score(model: Any, x: Any, y: Any, metric: str) -> float:
    import numpy as np

    if hasattr(model, "predict_proba") and metric in ("roc_auc", "pr_auc", "log_loss", "brier"):
        proba = np.asarray(model.predict_proba(x))[:, 1]
        value = classification_metrics(y, proba)[metric]
    elif metric in ("accuracy", "f1"):
        proba = np.asarray(model.predict_proba(x))[:, 1]
        value = classification_metrics(y, proba)[metric]
    else:
        value = regression_metrics(y, model.predict(x))[metric]
    if not math.isfinite(value):
        raise ValidationError(f"the trial's {metric} is not finite ({value})")
    return float(value)


def _trial_recorder(links: Any, prefix: str, metric: str) -> Any:
    """A function recording one trial as a child execution (no-op outside a pipeline run)."""
    from mloop.metadata.entities import ExecutionState, Metric

    store, run_id = links.store, links.run_id
    parent = None
    if store is not None and links.execution_id is not None:
        parent = store.get_execution(links.execution_id).step_name

    def record(number: int, params: dict[str, Any], score: float | None, error: str | None) -> None:
        if store is None or run_id is None:
            return
        child = store.create_execution(
            run_id,
            f"{parent or prefix}.trial-{number:03d}",
            params={**params, "trial": number, "parent_execution": links.execution_id},
        )
        if score is not None:
            store.log_metrics(run_id, [Metric(metric, score, step=number, execution_id=child.id)])
        state = ExecutionState.SUCCEEDED if error is None else ExecutionState.FAILED
        store.finish_execution(child.id, state, error=error)

    return record


@step
def tune(
    train: Any,
    valid: Any,
    label: str,
    search_space: dict[str, Any],
    positive: str | None = None,
    estimator: str = "sklearn.linear_model:LogisticRegression",
    fixed_params: dict[str, Any] | None = None,
    metric: str = "roc_auc",
    n_trials: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Search ``search_space`` for ``estimator``; output the best params and score."""
    import mloop

    result = tune_estimator(
        estimator,
        train,
        valid,
        label,
        search_space=search_space,
        positive=positive,
        fixed_params=fixed_params,
        metric=metric,
        n_trials=n_trials,
        seed=seed,
    )
    mloop.log_metrics({f"best_{metric}": result["best_score"]})
    return result
