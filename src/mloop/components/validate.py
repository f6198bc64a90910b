"""The ``validate`` step: the data gate in front of training.

It checks statistics against a schema and returns the :class:`~mloop.data.Anomalies` (recorded
as an "Anomalies" artifact) when none blocks. On blocking anomalies it fails the run, and so
that the failed run still shows what was wrong, it first records the anomalies on the run with
:func:`mloop.tracking.log_artifact` (a folder holding ``anomalies.json``, name
``<step>/anomalies``, tag ``mloop.artifact.<step>/anomalies``), then raises
:class:`~mloop.errors.DataValidationError` naming that artifact. One step rather than a
validate-then-gate pair keeps pipelines short, and ``after=[check]`` on the training step is
all a user writes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mloop.components.data_artifacts import AnomaliesMaterializer
from mloop.data import Anomalies, Schema, Statistics
from mloop.data import validate as _validate
from mloop.errors import DataValidationError, ValidationError
from mloop.pipelines.dsl import step

__all__ = ["load_schema", "record_anomalies", "validate"]


def load_schema(schema: Schema | str | Path | dict[str, Any]) -> Schema:
    """A Schema from a Schema, a YAML path, or its dict form (a JSON-able step parameter)."""
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    if isinstance(schema, (str, Path)):
        return Schema.from_yaml(Path(schema))
    raise ValidationError(
        f"schema must be a Schema, a YAML path or a dict, got {type(schema).__name__}"
    )


def record_anomalies(anomalies: Anomalies, name: str) -> str | None:
    """Record ``anomalies`` on the active run as artifact ``name``; its id, or ``None`` when no
    run is active (a plain function call outside a pipeline)."""
    from mloop.tracking.fluent import active_run, log_artifact

    if active_run() is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mloop-anomalies-") as tmp:
        folder = Path(tmp) / "anomalies"
        folder.mkdir()
        materializer = AnomaliesMaterializer()
        materializer.save(anomalies, folder)
        return log_artifact(
            folder, name=name, artifact_type="Anomalies", materializer=materializer.name
        ).id


@step(cache=False)
def validate(
    statistics: Statistics,
    schema: Any,
    environment: str | None = None,
    reference: Statistics | None = None,
) -> Anomalies:
    """Anomalies of ``statistics`` against ``schema`` (a Schema artifact, a YAML path or a
    dict); raises :class:`DataValidationError` on blocking ones, after recording them. Not
    cached: the schema file may be edited under the same path."""
    anomalies = _validate(statistics, load_schema(schema), environment, reference=reference)
    if anomalies.blocking:
        step_name = _current_step_name()
        artifact_id = record_anomalies(anomalies, f"{step_name}/anomalies")
        raise DataValidationError(anomalies, artifact_id=artifact_id)
    return anomalies


def _current_step_name() -> str:
    from mloop.errors import MloopError
    from mloop.pipelines.context import get_step_context

    try:
        return get_step_context().step_name
    except MloopError:
        return "validate"
