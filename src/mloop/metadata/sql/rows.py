"""Database rows to entities and back: the only place that knows the column encodings.

Encodings: times are stored as UTC (SQLite gives them back naive: read as UTC); a NaN metric
value is stored as NULL (SQLite turns NaN into NULL anyway, so both backends do the same);
infinities are stored as they are.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mloop._utils.clock import as_utc
from mloop.errors import ValidationError
from mloop.metadata.entities import (
    Artifact,
    Event,
    EventKind,
    Execution,
    ExecutionState,
    Metric,
    Pipeline,
    Run,
    RunState,
)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def encode_value(key: str, value: Any) -> float | None:
    """A metric value as stored: a float, or None for NaN. Non-numbers raise ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(
            f"metric {key!r} has value {value!r} of type {type(value).__name__}; "
            "metric values must be numbers (int or float)"
        )
    number = float(value)
    return None if math.isnan(number) else number


def decode_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def run_from_row(row: Mapping[Any, Any], tags: Mapping[str, str] | None = None) -> Run:
    return Run(
        id=row["id"],
        experiment=row["experiment"],
        state=RunState(row["state"]),
        started_at=as_utc(row["started_at"]),
        ended_at=utc_or_none(row["ended_at"]),
        name=row["name"],
        pipeline_name=row["pipeline_name"],
        pipeline_version=row["pipeline_version"],
        pipeline_params=dict(row["pipeline_params"] or {}),
        trigger=row["trigger"],
        environment=row["environment"],
        parent_run_id=row["parent_run_id"],
        tags=dict(tags or {}),
        heartbeat_at=utc_or_none(row["heartbeat_at"]),
        error=row["error"],
        host=row.get("host"),
        pid=row.get("pid"),
        options=dict(row.get("options") or {}),
    )


def execution_from_row(row: Mapping[Any, Any]) -> Execution:
    return Execution(
        id=row["id"],
        run_id=row["run_id"],
        step_name=row["step_name"],
        state=ExecutionState(row["state"]),
        code_digest=row["code_digest"],
        cache_key=row["cache_key"],
        params=dict(row["params"] or {}),
        started_at=utc_or_none(row["started_at"]),
        ended_at=utc_or_none(row["ended_at"]),
        heartbeat_at=utc_or_none(row["heartbeat_at"]),
        attempts=row["attempts"],
        error=row["error"],
        log_uri=row["log_uri"],
        cached_from=row["cached_from"],
    )


def artifact_from_row(row: Mapping[Any, Any]) -> Artifact:
    return Artifact(
        id=row["id"],
        type=row["type"],
        uri=row["uri"],
        digest=row["digest"],
        size=row["size"],
        created_at=as_utc(row["created_at"]),
        materializer=row["materializer"],
        properties=dict(row["properties"] or {}),
    )


def artifact_to_row(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "type": artifact.type,
        "uri": artifact.uri,
        "digest": artifact.digest,
        "size": artifact.size,
        "created_at": as_utc(artifact.created_at),
        "materializer": artifact.materializer,
        "properties": dict(artifact.properties),
    }


def event_from_row(row: Mapping[Any, Any]) -> Event:
    return Event(
        execution_id=row["execution_id"],
        artifact_id=row["artifact_id"],
        kind=EventKind(row["kind"]),
        name=row["name"],
    )


def metric_from_row(row: Mapping[Any, Any]) -> Metric:
    return Metric(
        key=row["key"],
        value=decode_value(row["value"]),
        step=row["step"],
        timestamp=as_utc(row["timestamp"]),
        execution_id=row["execution_id"],
    )


def pipeline_from_row(row: Mapping[Any, Any]) -> Pipeline:
    return Pipeline(
        name=row["name"],
        version=row["version"],
        spec=dict(row["spec"] or {}),
        created_at=as_utc(row["created_at"]),
    )
