"""The reference a model is monitored against, found by lineage in the metadata store.

model version -> the run that produced it -> a ``Statistics`` artifact that run recorded (the
statistics training validation used), else the version's training-dataset artifact, whose
statistics are then computed here with the same ``mloop.data`` code (and the report says so).
Reference predictions for prediction drift are the model's outputs on (a sample of) that
training data, when the dataset and the package can be opened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mloop.artifacts.base import ArtifactStore
from mloop.data import Statistics, compute_statistics
from mloop.errors import MloopError, ModelNotFoundError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, EventKind
from mloop.metadata.model_registry import ModelVersion

if TYPE_CHECKING:
    from mloop.monitoring.report import MonitoringReport

__all__ = ["Reference", "find_reference", "reference_for_report", "reference_of_logged_version"]

log = logging.getLogger("mloop.monitoring")
PREDICTION_SAMPLE_ROWS = 20_000  # rows of training data the model is re-run on, at most


@dataclass
class Reference:
    """What a window is compared with. ``source``: ``statistics_artifact``,
    ``computed_from_training_data`` or ``none``; ``notes`` say what could not be found."""

    source: str = "none"
    statistics: Statistics | None = None
    prediction_statistics: Statistics | None = None
    artifact_id: str | None = None
    notes: list[str] = field(default_factory=list)


def _output_artifacts(store: MetadataStore, run_id: str) -> list[Artifact]:
    found = []
    for execution in store.list_executions(run_id):
        for event in store.list_events(execution_id=execution.id):
            if event.kind == EventKind.OUTPUT:
                found.append(store.get_artifact(event.artifact_id))
    return found


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet"))


def _load_dataset(artifacts: ArtifactStore, artifact: Artifact) -> Any:
    import polars as pl

    with artifacts.open_local(artifact.uri, digest=artifact.digest) as folder:
        files = _parquet_files(Path(folder))
        if files:
            return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
        csvs = sorted(Path(folder).rglob("*.csv"))
        if csvs:
            return pl.concat([pl.read_csv(f) for f in csvs], how="diagonal_relaxed")
    raise MloopError(f"dataset artifact {artifact.id} holds no Parquet or CSV file")


def _reference_predictions(
    artifacts: ArtifactStore, version: ModelVersion, frame: Any
) -> Statistics | None:
    """Statistics of the model's outputs on a sample of its training data."""
    import numpy as np

    from mloop.models import load_model
    from mloop.monitoring.windows import prediction_frame

    with artifacts.open_local(version.uri) as folder:  # the package digest is checked:
        model = load_model(folder, expected_digest=version.digest)
        sample = frame.head(PREDICTION_SAMPLE_ROWS)
        names = model.signature.input_names if model.signature is not None else sample.columns
        inputs = sample.select([c for c in names if c in sample.columns]).to_pandas()
        predictions = np.asarray(model.predict(inputs))
        proba = model.predict_proba(inputs) if model.has_proba else None
    return compute_statistics(prediction_frame(predictions, proba))


def find_reference(
    store: MetadataStore,
    artifacts: ArtifactStore,
    version: ModelVersion | None,
    *,
    columns: list[str] | None = None,
) -> Reference:
    """The training reference of ``version`` (see the module docstring)."""
    ref = Reference()
    if version is None:
        ref.notes.append("the logged version is not in the registry: no training reference")
        return ref
    if version.run_id:
        for artifact in _output_artifacts(store, version.run_id):
            if artifact.type == "Statistics":
                with artifacts.open_local(artifact.uri, digest=artifact.digest) as folder:
                    text = (Path(folder) / "statistics.json").read_text(encoding="utf-8")
                ref.source, ref.artifact_id = "statistics_artifact", artifact.id
                ref.statistics = Statistics.from_json(text)
                break
    frame = None
    if version.data_artifact_id:
        try:
            frame = _load_dataset(artifacts, store.get_artifact(version.data_artifact_id))
        except MloopError as exc:
            ref.notes.append(f"training data {version.data_artifact_id} unreadable: {exc}")
    if ref.statistics is None and frame is not None:
        keep = [c for c in (columns or frame.columns) if c in frame.columns]
        ref.statistics = compute_statistics(frame.select(keep))
        ref.source, ref.artifact_id = "computed_from_training_data", version.data_artifact_id
        ref.notes.append(
            "no Statistics artifact recorded by the producing run: statistics were computed "
            f"from the training dataset artifact {version.data_artifact_id}"
        )
    if ref.statistics is None:
        ref.notes.append(
            f"{version.model_uri} records neither a Statistics artifact nor training data: "
            "input drift is measured against the previous window"
        )
    if frame is not None:
        try:
            ref.prediction_statistics = _reference_predictions(artifacts, version, frame)
        except Exception as exc:  # a reference we cannot build must not stop monitoring
            log.warning("reference predictions of %s failed: %s", version.model_uri, exc)
            ref.notes.append(f"reference predictions unavailable: {exc}")
    return ref


def reference_of_logged_version(
    store: MetadataStore,
    artifacts: ArtifactStore,
    model: str,
    version: str | None,
    *,
    columns: list[str] | None = None,
) -> Reference:
    """The training reference of ``model``'s version as the prediction log spells it (text;
    None, not a number or not registered: no version, said in the notes)."""
    found: ModelVersion | None = None
    if version is not None:
        try:
            found = store.model_registry().get_version(model, int(version))
        except (ModelNotFoundError, ValueError):
            found = None
    return find_reference(store, artifacts, found, columns=columns)


def reference_for_report(
    store: MetadataStore, artifacts: ArtifactStore, report: MonitoringReport, columns: list[str]
) -> Reference:
    """The training reference of the version that served most of ``report``'s window, with
    its source, artifact and notes recorded on the report."""
    reference = reference_of_logged_version(
        store, artifacts, report.model, report.version, columns=columns
    )
    report.notes.extend(reference.notes)
    report.reference_source, report.reference_artifact_id = (
        reference.source,
        reference.artifact_id,
    )
    return reference
