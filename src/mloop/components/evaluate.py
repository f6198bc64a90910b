"""The ``evaluate`` component: the candidate's metrics on the hold-out set, overall and per
slice, compared with the model behind the production alias on the SAME rows, and the blessing
from declarative thresholds. Outputs three artifacts: Evaluation, Blessing, and the HTML report.

Not cached: the baseline is whatever the alias points at when the step runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mloop.components.model_artifacts import HtmlReport, register_model_materializers
from mloop.components.run_links import project_registry
from mloop.components.train import features_and_labels
from mloop.errors import ModelNotFoundError
from mloop.evaluation import (
    Blessing,
    Evaluation,
    ValidationSpec,
    bless,
    evaluate_predictions,
    render_html,
)
from mloop.models import LoadedModel, ModelPackage
from mloop.pipelines.dsl import step

__all__ = ["evaluate", "evaluate_model", "score_model"]

register_model_materializers()


def score_model(
    model: LoadedModel,
    test: Any,
    label: str,
    *,
    positive: Any = None,
    slice_by: Sequence[str] = (),
    name: str,
    min_slice_rows: int = 30,
) -> Evaluation:
    """The evaluation of a loaded model on ``test`` (classification when it has
    ``predict_proba``, else regression), sliced by the columns ``slice_by`` of ``test``."""
    from mloop.models.package import as_pandas

    frame = as_pandas(test)
    x, y = features_and_labels(frame, label, positive=positive)
    task: Literal["classification", "regression"]
    if model.has_proba:
        proba = model.predict_proba(x)  # binary: column 1 is the second (positive) class
        predictions, task = proba[:, 1], "classification"
    else:
        predictions, task = model.predict(x), "regression"
    missing = [c for c in slice_by if c not in frame.columns]
    if missing:
        from mloop.errors import ValidationError

        raise ValidationError(f"cannot slice by {missing}: the test set has no such column")
    return evaluate_predictions(
        y,
        predictions,
        task=task,
        slices={c: frame[c].to_numpy() for c in slice_by},
        model=name,
        min_slice_rows=min_slice_rows,
    )


def evaluate_model(
    package: ModelPackage,
    test: Any,
    label: str,
    *,
    positive: Any = None,
    slice_by: Sequence[str] = (),
    baseline: str | None = None,
    thresholds: Mapping[str, Any] | None = None,
    min_slice_rows: int = 30,
    registry: Any = None,
    max_references: int = 5,
) -> tuple[Evaluation, Blessing, HtmlReport]:
    """Evaluate the candidate; when ``baseline`` (a ``models:/`` URI) resolves, evaluate that
    model on the same rows and bless against it, else against the floors only. When the
    baseline names an alias, up to ``max_references`` versions the alias pointed at before
    (not ones rolled back from) are scored on the same rows too, and the candidate must be
    within tolerance of the best of them, so small losses cannot add up across promotions."""
    spec = ValidationSpec.from_dict(thresholds)
    candidate = score_model(
        package.load(),
        test,
        label,
        positive=positive,
        slice_by=slice_by,
        name=f"candidate {package.digest[:12]}",
        min_slice_rows=min_slice_rows,
    )
    base_eval, references = None, []
    if baseline:
        registry = registry or project_registry()
        try:
            version = registry.resolve(baseline)
        except ModelNotFoundError:
            version = None  # nothing in production yet: the floors alone decide
        if version is not None:
            base_eval = score_model(
                registry.load_model(version),
                test,
                label,
                positive=positive,
                slice_by=slice_by,
                name=f"{baseline} (v{version.version})",
                min_slice_rows=min_slice_rows,
            )
            for earlier in _earlier_versions(registry, baseline, version, max_references):
                references.append(
                    score_model(
                        registry.load_model(earlier),
                        test,
                        label,
                        positive=positive,
                        name=f"v{earlier.version}",
                        min_slice_rows=min_slice_rows,
                    )
                )
    blessing = bless(candidate, spec, base_eval, references)
    report = HtmlReport(
        render_html(candidate, base_eval, blessing, title="Evaluation of the candidate model"),
        title="evaluation",
    )
    return candidate, blessing, report


def _earlier_versions(registry: Any, baseline: str, current: Any, limit: int) -> list[Any]:
    """Versions the baseline's alias pointed at before ``current``, newest first, leaving out
    any that was rolled back from (it misbehaved) and any whose package is gone."""
    from mloop.registry.uris import parse_model_uri

    parsed = parse_model_uri(baseline)
    if parsed.alias is None or limit <= 0:
        return []
    history = registry.alias_history(parsed.name, parsed.alias)
    rolled_back = {c.from_version for c in history if c.kind == "rollback"}
    found: list[Any] = []
    seen = {current.version} | rolled_back
    for change in reversed(history):
        v = change.to_version
        if change.kind != "set" or v is None or v in seen:
            continue
        seen.add(v)
        try:
            found.append(registry.get_model_version(parsed.name, v))
        except ModelNotFoundError:
            continue
        if len(found) >= limit:
            break
    return found


@step(cache=False, outputs=("evaluation", "blessing", "report"))
def evaluate(
    model: ModelPackage,
    test: Any,
    label: str,
    positive: str | None = None,
    slice_by: list[str] | None = None,
    baseline: str | None = None,
    thresholds: dict[str, Any] | None = None,
    min_slice_rows: int = 30,
    max_references: int = 5,
) -> tuple[Evaluation, Blessing, HtmlReport]:
    """Evaluate ``model`` on ``test`` against ``baseline`` (e.g. ``models:/NAME@production``)
    and the best of up to ``max_references`` versions promoted before it."""
    import mloop

    evaluation, blessing, report = evaluate_model(
        model,
        test,
        label,
        positive=positive,
        slice_by=slice_by or (),
        baseline=baseline,
        thresholds=thresholds,
        min_slice_rows=min_slice_rows,
        max_references=max_references,
    )
    mloop.log_metrics({**evaluation.metrics, "blessed": float(blessing.blessed)})
    return evaluation, blessing, report
