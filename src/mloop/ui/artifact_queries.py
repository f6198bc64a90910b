"""Read queries of the artifact pages: report listings and where an artifact came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mloop.errors import ArtifactNotFoundError
from mloop.metadata.entities import Artifact
from mloop.metadata.sql import rows
from mloop.metadata.sql.schema import artifacts, events, executions

REPORT_TYPES = ("Statistics", "Anomalies", "DriftReport", "Evaluation", "Report")
"""Artifact types the data-reports page lists."""
PAGE_SIZE = 50


@dataclass(frozen=True)
class ArtifactRow:
    artifact: Artifact
    run_id: str | None
    step: str | None


@dataclass(frozen=True)
class ArtifactPage:
    items: list[ArtifactRow]
    page: int
    pages: int
    total: int


def _produced() -> Any:
    """artifacts LEFT JOIN the output event and execution that produced each one."""
    return artifacts.outerjoin(
        events, sa.and_(events.c.artifact_id == artifacts.c.id, events.c.kind == "output")
    ).outerjoin(executions, executions.c.id == events.c.execution_id)


def report_page(conn: sa.Connection, types: Sequence[str], page: int) -> ArtifactPage:
    """Report artifacts of ``types``, newest first, one page: two statements."""
    wanted = [t for t in types if t in REPORT_TYPES] or list(REPORT_TYPES)
    where = artifacts.c.type.in_(wanted)
    total = int(conn.scalar(sa.select(sa.func.count()).select_from(artifacts).where(where)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = (
        sa.select(artifacts, executions.c.run_id, executions.c.step_name)
        .select_from(_produced())
        .where(where)
        .order_by(artifacts.c.created_at.desc(), artifacts.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    items = []
    seen: set[str] = set()
    for r in conn.execute(query):
        if r.id in seen:  # a cached execution re-emits the same artifact: show it once
            continue
        seen.add(r.id)
        items.append(ArtifactRow(rows.artifact_from_row(r._mapping), r.run_id, r.step_name))
    return ArtifactPage(items, page, pages, total)


@dataclass(frozen=True)
class ArtifactInfo:
    artifact: Artifact
    run_id: str | None
    step: str | None
    inputs: dict[str, Artifact]  # the producing execution's inputs, by event name


def artifact_info(conn: sa.Connection, artifact_id: str) -> ArtifactInfo:
    """The artifact, the run and step that produced it, and that step's inputs."""
    found = conn.execute(
        sa.select(
            artifacts, executions.c.run_id, executions.c.step_name, executions.c.id.label("ex")
        )
        .select_from(_produced())
        .where(artifacts.c.id == artifact_id)
        .order_by(executions.c.created_at)
        .limit(1)
    ).first()
    if found is None:
        raise ArtifactNotFoundError(artifact_id)
    inputs: dict[str, Artifact] = {}
    if found.ex is not None:
        query = (
            sa.select(events.c.name, artifacts)
            .join(artifacts, artifacts.c.id == events.c.artifact_id)
            .where(events.c.execution_id == found.ex, events.c.kind == "input")
        )
        inputs = {r.name: rows.artifact_from_row(r._mapping) for r in conn.execute(query)}
    return ArtifactInfo(
        rows.artifact_from_row(found._mapping), found.run_id, found.step_name, inputs
    )
