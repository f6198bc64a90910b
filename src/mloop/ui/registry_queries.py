"""Read queries of the registry, deployment and operations pages, a fixed number per page.

``ModelRegistryStore.search_models`` reads each model's aliases and latest version one model at
a time; the model list here reads all models, version counts and aliases in three statements.
Tables that another part of mloop may not have created yet (``deployments``, ``environments``)
are looked up first, so their page shows what exists instead of failing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc
from mloop.errors import ModelNotFoundError
from mloop.metadata.entities import Artifact
from mloop.metadata.model_registry import AliasChange, ModelVersion
from mloop.metadata.sql import rows
from mloop.metadata.sql.schema import (
    alias_history,
    artifacts,
    controller_leases,
    events,
    executions,
    model_aliases,
    model_versions,
    registered_models,
)


@dataclass(frozen=True)
class ModelRow:
    name: str
    description: str | None
    versions: int
    latest: int | None
    updated_at: Any
    aliases: dict[str, int]


def model_rows(conn: sa.Connection) -> list[ModelRow]:
    counts = {
        r.name: (int(r.n), r.latest)
        for r in conn.execute(
            sa.select(
                model_versions.c.name,
                sa.func.count().label("n"),
                sa.func.max(model_versions.c.version).label("latest"),
            ).group_by(model_versions.c.name)
        )
    }
    aliases = all_aliases(conn)
    out = []
    for r in conn.execute(sa.select(registered_models).order_by(registered_models.c.name)):
        n, latest = counts.get(r.name, (0, None))
        out.append(
            ModelRow(
                name=r.name,
                description=r.description,
                versions=n,
                latest=latest,
                updated_at=rows.utc_or_none(r.updated_at),
                aliases=aliases.get(r.name, {}),
            )
        )
    return out


def all_aliases(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """Model name -> alias -> version, for every model (one statement)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    query = sa.select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version)
    for name, alias, version in conn.execute(query.order_by(model_aliases.c.alias)):
        out[name][alias] = int(version)
    return dict(out)


@dataclass(frozen=True)
class ModelDetail:
    name: str
    description: str | None
    versions: list[ModelVersion]
    aliases: dict[str, int]
    history: list[AliasChange]
    evaluations: dict[int, Artifact]  # version -> the Evaluation artifact of its run


def model_detail(conn: sa.Connection, name: str) -> ModelDetail:
    head = conn.execute(
        sa.select(registered_models).where(registered_models.c.name == name)
    ).first()
    if head is None:
        raise ModelNotFoundError(name)
    aliases = all_aliases_of(conn, name)
    by_version: dict[int, list[str]] = defaultdict(list)
    for alias, version in aliases.items():
        by_version[version].append(alias)
    found = conn.execute(
        sa.select(model_versions)
        .where(model_versions.c.name == name)
        .order_by(model_versions.c.version.desc())
    ).all()
    versions = [_version(r._mapping, tuple(sorted(by_version.get(r.version, [])))) for r in found]
    history = [
        AliasChange(
            id=r.id,
            name=r.name,
            alias=r.alias,
            from_version=r.from_version,
            to_version=r.to_version,
            kind=r.kind,
            actor=r.actor,
            reason=r.reason,
            at=as_utc(r.at),
        )
        for r in conn.execute(
            sa.select(alias_history)
            .where(alias_history.c.name == name)
            .order_by(alias_history.c.id.desc())
        )
    ]
    return ModelDetail(
        name=name,
        description=head.description,
        versions=versions,
        aliases=aliases,
        history=history,
        evaluations=evaluations_of(conn, versions),
    )


def all_aliases_of(conn: sa.Connection, name: str) -> dict[str, int]:
    query = sa.select(model_aliases.c.alias, model_aliases.c.version).where(
        model_aliases.c.name == name
    )
    return {alias: int(v) for alias, v in conn.execute(query.order_by(model_aliases.c.alias))}


def evaluations_of(conn: sa.Connection, versions: Sequence[ModelVersion]) -> dict[int, Artifact]:
    """Version -> the Evaluation artifact its producing run wrote (one statement)."""
    by_run: dict[str, list[int]] = defaultdict(list)
    for v in versions:
        if v.run_id:
            by_run[v.run_id].append(v.version)
    if not by_run:
        return {}
    query = (
        sa.select(executions.c.run_id, artifacts)
        .select_from(
            events.join(executions, executions.c.id == events.c.execution_id).join(
                artifacts, artifacts.c.id == events.c.artifact_id
            )
        )
        .where(
            executions.c.run_id.in_(list(by_run)),
            events.c.kind == "output",
            artifacts.c.type == "Evaluation",
        )
        .order_by(artifacts.c.created_at)
    )
    out: dict[int, Artifact] = {}
    for r in conn.execute(query):
        artifact = rows.artifact_from_row(r._mapping)
        for version in by_run[r.run_id]:
            out[version] = artifact  # the newest one wins
    return out


def _version(row: Any, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=int(row["version"]),
        uri=row["uri"],
        digest=row["digest"],
        created_at=as_utc(row["created_at"]),
        flavor=row["flavor"],
        artifact_id=row["artifact_id"],
        run_id=row["run_id"],
        data_artifact_id=row["data_artifact_id"],
        signature=row["signature"],
        metrics=dict(row["metrics"] or {}),
        tags=dict(row["tags"] or {}),
        description=row["description"],
        created_by=row["created_by"],
        aliases=aliases,
    )


def versions_of_artifacts(
    conn: sa.Connection, artifact_ids: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """Artifact id -> the model versions registered from it (package or training data)."""
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    ids = list(artifact_ids)
    if not ids:
        return {}
    query = sa.select(
        model_versions.c.name,
        model_versions.c.version,
        model_versions.c.artifact_id,
        model_versions.c.data_artifact_id,
    ).where(
        sa.or_(model_versions.c.artifact_id.in_(ids), model_versions.c.data_artifact_id.in_(ids))
    )
    for r in conn.execute(query):
        for aid in {r.artifact_id, r.data_artifact_id} & set(ids):
            out[aid].append((r.name, int(r.version)))
    return dict(out)


DEPLOYMENT_COLUMNS = (
    "id",
    "environment",
    "pipeline",
    "package",
    "state",
    "kind",
    "approval",
    "requested_by",
    "requested_at",
    "reason",
    "decided_by",
    "decision_reason",
    "activated_at",
)


def deployment_rows(conn: sa.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest pipeline deployments (``mloop deploy``), with their package's version: one
    query whatever the number of rows."""
    from mloop.metadata.sql.schema import deployments, pipeline_packages

    d, p = deployments.c, pipeline_packages.c
    query = (
        sa.select(
            d.id,
            d.environment,
            d.pipeline,
            (
                sa.literal("v")
                + sa.cast(p.version, sa.String)
                + " "
                + sa.func.substr(d.package_digest, 1, 12)
            ).label("package"),
            d.state,
            d.kind,
            d.approval,
            d.requested_by,
            d.requested_at,
            d.reason,
            d.decided_by,
            d.decision_reason,
            d.activated_at,
        )
        .select_from(deployments.outerjoin(pipeline_packages, p.id == d.package_id))
        .order_by(d.requested_at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def pending_rows(conn: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Pipeline deployments waiting for ``mloop approve``, oldest first (one query)."""
    from mloop.metadata.deployments import DeploymentState
    from mloop.metadata.sql.schema import deployments, pipeline_packages

    d, p = deployments.c, pipeline_packages.c
    query = (
        sa.select(
            d.id,
            d.environment,
            d.pipeline,
            p.version.label("package_version"),
            d.package_digest,
            d.approval,
            d.source_environment,
            d.requested_by,
            d.requested_at,
            d.reason,
        )
        .select_from(deployments.outerjoin(pipeline_packages, p.id == d.package_id))
        .where(d.state == DeploymentState.PENDING_APPROVAL.value)
        .order_by(d.requested_at)
        .limit(limit)
    )
    return [
        {**r._mapping, "requested_at": rows.utc_or_none(r.requested_at)}
        for r in conn.execute(query)
    ]


def leases(conn: sa.Connection) -> list[dict[str, Any]]:
    query = sa.select(controller_leases).order_by(controller_leases.c.name)
    return [
        {
            "name": r.name,
            "holder": r.holder,
            "expires_at": rows.utc_or_none(r.expires_at),
            "acquired_at": rows.utc_or_none(r.acquired_at),
        }
        for r in conn.execute(query)
    ]
