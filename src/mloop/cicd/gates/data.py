"""The data gate before batch prediction: the input is validated against the schema the model
version was trained under, before any row is predicted.

The training schema is, in order: the ``Schema`` artifact a step of the version's training run
produced (a pipeline with a ``schema``/``validate`` step); else one inferred from the version's
training data artifact (:func:`mloop.data.infer_schema` on its statistics); else none (the
model's signature, which batch prediction checks chunk by chunk, is all there is). The schema is
narrowed to the model's inputs (a label column is not expected in data to predict).

Before retraining, a pipeline's ``validate`` step fails the run (and so the launcher's trigger
event) on blocking anomalies; an environment with ``gates.require_data_validation`` refuses to
deploy a package that trains or pushes a model without a ``validate`` step upstream
(:func:`check_retraining_validation`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mloop.data import Anomalies, Schema, compute_statistics, infer_schema, validate
from mloop.metadata.entities import EventKind
from mloop.metadata.model_registry import ModelVersion

__all__ = ["InputCheck", "check_batch_input", "check_retraining_validation", "training_schema"]

VALIDATE_STEP = "mloop.components.validate:validate"
MODEL_STEPS = ("mloop.components.train:train", "mloop.components.push:push")


@dataclass(frozen=True)
class InputCheck:
    """The anomalies of the input (None: no training schema to check against) and where the
    schema came from (one sentence)."""

    anomalies: Anomalies | None
    source: str

    @property
    def blocking(self) -> bool:
        return self.anomalies is not None and self.anomalies.blocking


def _run_schema(registry: Any, run_id: str) -> Schema | None:
    store, artifacts = registry.store, registry.artifacts
    found: list[Any] = []
    for execution in store.list_executions(run_id):
        for event in store.list_events(execution_id=execution.id):
            if event.kind is EventKind.OUTPUT:
                artifact = store.get_artifact(event.artifact_id)
                if artifact.type == "Schema":
                    found.append(artifact)
    if not found:
        return None
    with artifacts.open_local(found[-1].uri) as folder:
        return Schema.from_json((Path(folder) / "schema.json").read_text(encoding="utf-8"))


def _data_schema(registry: Any, artifact_id: str) -> Schema | None:
    artifact = registry.store.get_artifact(artifact_id)
    with registry.artifacts.open_local(artifact.uri) as folder:
        files = sorted(Path(folder).rglob("*.parquet"))
        if not files:
            return None
        return infer_schema(compute_statistics(files[0]))


def training_schema(registry: Any, version: ModelVersion) -> tuple[Schema | None, str]:
    """The version's training schema, narrowed to its inputs, and where it came from."""
    schema, source = None, f"{version.model_uri} records no training schema or data"
    if version.run_id:
        schema = _run_schema(registry, version.run_id)
        if schema is not None:
            source = f"the Schema artifact of training run {version.run_id}"
    if schema is None and version.data_artifact_id:
        schema = _data_schema(registry, version.data_artifact_id)
        if schema is not None:
            source = f"a schema inferred from training data artifact {version.data_artifact_id}"
    if schema is None:
        return None, source
    inputs = [c.get("name") for c in (version.signature or {}).get("inputs") or []]
    if inputs:
        features = {n: f for n, f in schema.features.items() if n in inputs}
        schema = replace(schema, features=features)
    return schema, source


def _input_frame(path: Path) -> Any:
    import polars as pl

    if path.is_dir():
        return pl.scan_parquet(str(path / "**" / "*.parquet"))
    return path


def check_batch_input(registry: Any, model_uri: str, input_path: Path) -> InputCheck:
    """Validate ``input_path`` (Parquet file or folder) against the training schema of the
    registered version behind ``model_uri``; a package folder has none to check against."""
    if not model_uri.startswith("models:/"):
        return InputCheck(None, f"{model_uri} is not a registered version: no training schema")
    version = registry.resolve(model_uri)
    schema, source = training_schema(registry, version)
    if schema is None:
        return InputCheck(None, source)
    environment = "SERVING" if "SERVING" in schema.environments else None
    anomalies = validate(compute_statistics(_input_frame(input_path)), schema, environment)
    return InputCheck(anomalies, source)


def _kind(node: Any) -> str:
    func = getattr(node.step, "func", None)
    return f"{getattr(func, '__module__', '')}:{getattr(func, '__qualname__', '')}"


def check_retraining_validation(environment: str, required: bool, graph: Any) -> Any:
    """The ``data_validation`` gate: every train/push step of ``graph`` must run after a
    ``validate`` step (``mloop.components.validate``) when the environment requires it."""
    from mloop.cicd.gates.result import FAILED, PASSED, SKIPPED, GateResult

    if not required:
        return GateResult(
            "data_validation", SKIPPED, f"{environment} sets no gates.require_data_validation"
        )
    models = [n.name for n in graph.steps if _kind(n) in MODEL_STEPS]
    if not models:
        return GateResult("data_validation", PASSED, "the pipeline trains or pushes no model")
    checks = {n.name for n in graph.steps if _kind(n) == VALIDATE_STEP}
    guarded = graph.downstream_of(checks) if checks else set()
    unguarded = [name for name in models if name not in guarded]
    if unguarded:
        return GateResult(
            "data_validation",
            FAILED,
            f"{environment} requires data validation before retraining, but steps "
            f"{unguarded} run without a validate step (mloop.components.validate) upstream; "
            "validate the training data first (train(..., after=[check]))",
            {"validate_steps": sorted(checks), "model_steps": models},
        )
    return GateResult(
        "data_validation",
        PASSED,
        f"steps {models} run after the validate step(s) {sorted(checks)}",
        {"validate_steps": sorted(checks), "model_steps": models},
    )
