"""``SqlModelRegistryStore``: registered models, versions, aliases and alias history in SQL.

Version numbers are taken inside one write transaction (``BEGIN IMMEDIATE`` on SQLite; a row lock
on the registered model with ``SELECT ... FOR UPDATE`` on PostgreSQL), so two registrations at
once get 1 and 2, never the same number. An alias move and its history row land together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from mloop._utils.clock import as_utc, utc_now
from mloop.errors import ModelNotFoundError, ValidationError
from mloop.metadata.model_registry import (
    AliasChange,
    ModelRegistryStore,
    ModelVersion,
    RegisteredModel,
)
from mloop.metadata.sql.engine import read_transaction, write_transaction
from mloop.metadata.sql.schema import (
    alias_history,
    model_aliases,
    model_versions,
    registered_models,
)

_GET_ALIAS = sa.select(model_aliases.c.version).where(
    model_aliases.c.name == sa.bindparam("_name"), model_aliases.c.alias == sa.bindparam("_alias")
)


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > 255 or "/" in value or "@" in value:
        raise ValidationError(
            f"{kind} {value!r} is not valid: use 1-255 characters without '/' or '@'"
        )


class SqlModelRegistryStore(ModelRegistryStore):
    """The registry on the metadata store's engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- models and versions ----------------------------------------------------------------
    def create_version(
        self,
        name: str,
        *,
        uri: str,
        digest: str,
        flavor: str | None = None,
        artifact_id: str | None = None,
        run_id: str | None = None,
        data_artifact_id: str | None = None,
        signature: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        created_by: str | None = None,
    ) -> ModelVersion:
        _check_name("model name", name)
        now = utc_now()
        with write_transaction(self._engine) as conn:
            # Create the model row if missing (a concurrent creator wins harmlessly), then lock
            # it: registrations of one model are serialised on PostgreSQL by this row lock.
            conn.execute(
                _dialect_insert(conn, registered_models)
                .values(name=name, description=None, tags={}, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                sa.select(registered_models.c.name)
                .where(registered_models.c.name == name)
                .with_for_update()
            )
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(updated_at=now)
            )
            latest = conn.scalar(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.name == name
                )
            )
            row = {
                "name": name,
                "version": int(latest or 0) + 1,
                "uri": uri,
                "digest": digest,
                "flavor": flavor,
                "artifact_id": artifact_id,
                "run_id": run_id,
                "data_artifact_id": data_artifact_id,
                "signature": None if signature is None else dict(signature),
                "metrics": {k: float(v) for k, v in (metrics or {}).items()},
                "tags": {k: str(v) for k, v in (tags or {}).items()},
                "description": description,
                "created_by": created_by,
                "created_at": now,
            }
            conn.execute(model_versions.insert().values(row))
        return _version(row, ())

    def get_model(self, name: str) -> RegisteredModel:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise ModelNotFoundError(name)
            return self._model(conn, row._mapping)

    def search_models(
        self, *, name_contains: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModel]:
        query = sa.select(registered_models).order_by(registered_models.c.name)
        if name_contains:
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(registered_models.c.name.like(f"%{escaped}%", escape="\\"))
        with read_transaction(self._engine) as conn:
            found = [self._model(conn, r._mapping) for r in conn.execute(query)]
        wanted = {k: str(v) for k, v in (tags or {}).items()}
        return [m for m in found if all(m.tags.get(k) == v for k, v in wanted.items())]

    def _model(self, conn: sa.Connection, row: Mapping[Any, Any]) -> RegisteredModel:
        name = row["name"]
        aliases = {
            r.alias: int(r.version)
            for r in conn.execute(
                sa.select(model_aliases.c.alias, model_aliases.c.version).where(
                    model_aliases.c.name == name
                )
            )
        }
        latest = conn.scalar(
            sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
        )
        return RegisteredModel(
            name=name,
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            description=row["description"],
            tags=dict(row["tags"] or {}),
            aliases=aliases,
            latest_version=None if latest is None else int(latest),
        )

    def get_version(self, name: str, version: int) -> ModelVersion:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(model_versions).where(
                    model_versions.c.name == name, model_versions.c.version == int(version)
                )
            ).first()
            if row is None:
                self._require_model(conn, name)
                raise ModelNotFoundError(f"{name}/{version}", "no such version")
            return _version(row._mapping, self._aliases_of(conn, name).get(int(version), ()))

    def list_versions(self, name: str) -> list[ModelVersion]:
        with read_transaction(self._engine) as conn:
            self._require_model(conn, name)
            aliases = self._aliases_of(conn, name)
            result = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version.desc())
            )
            return [_version(r._mapping, aliases.get(int(r.version), ())) for r in result]

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        with write_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise ModelNotFoundError(name)
            values: dict[str, Any] = {"updated_at": utc_now()}
            if description is not None:
                values["description"] = description
            if tags:
                values["tags"] = {**(row.tags or {}), **{k: str(v) for k, v in tags.items()}}
            conn.execute(
                registered_models.update().where(registered_models.c.name == name).values(values)
            )
        return self.get_model(name)

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        current = self.get_version(name, version)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if tags:
            values["tags"] = {**current.tags, **{k: str(v) for k, v in tags.items()}}
        if values:
            with write_transaction(self._engine) as conn:
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.name == name, model_versions.c.version == int(version))
                    .values(values)
                )
        return self.get_version(name, version)

    # -- aliases -------------------------------------------------------------------------------
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        actor: str,
        reason: str,
        kind: str = "set",
    ) -> AliasChange:
        _check_name("alias", alias)
        if alias.isdigit():
            raise ValidationError(f"alias {alias!r} would read as a version number; use a word")
        if not reason or not reason.strip():
            raise ValidationError("moving an alias needs a reason (it is kept in its history)")
        now = utc_now()
        with write_transaction(self._engine) as conn:
            self._require_model(conn, name, lock=True)
            if version is not None:
                exists = conn.execute(
                    sa.select(model_versions.c.version).where(
                        model_versions.c.name == name, model_versions.c.version == int(version)
                    )
                ).first()
                if exists is None:
                    raise ModelNotFoundError(f"{name}/{version}", "no such version")
            before = conn.execute(_GET_ALIAS, {"_name": name, "_alias": alias}).scalar()
            where = (model_aliases.c.name == name) & (model_aliases.c.alias == alias)
            if version is None:
                if before is None:
                    raise ModelNotFoundError(f"{name}@{alias}", "no such alias to delete")
                conn.execute(model_aliases.delete().where(where))
            elif before is None:
                conn.execute(
                    model_aliases.insert().values(
                        name=name, alias=alias, version=int(version), updated_at=now
                    )
                )
            else:
                conn.execute(
                    model_aliases.update().where(where).values(version=int(version), updated_at=now)
                )
            row = {
                "name": name,
                "alias": alias,
                "from_version": before,
                "to_version": None if version is None else int(version),
                "kind": "delete" if version is None else kind,
                "actor": actor,
                "reason": reason.strip(),
                "at": now,
            }
            inserted = conn.execute(alias_history.insert().values(row)).inserted_primary_key
            assert inserted is not None  # an INSERT of one row always has its key
            new_id = inserted[0]
        return _change({**row, "id": new_id})

    def get_alias(self, name: str, alias: str) -> int | None:
        with read_transaction(self._engine) as conn:
            found = conn.execute(_GET_ALIAS, {"_name": name, "_alias": alias}).scalar()
        return None if found is None else int(found)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        query = sa.select(alias_history).where(alias_history.c.name == name)
        if alias is not None:
            query = query.where(alias_history.c.alias == alias)
        with read_transaction(self._engine) as conn:
            self._require_model(conn, name)
            return [_change(r._mapping) for r in conn.execute(query.order_by(alias_history.c.id))]

    # -- plumbing ------------------------------------------------------------------------------
    @staticmethod
    def _require_model(conn: sa.Connection, name: str, *, lock: bool = False) -> None:
        query = sa.select(registered_models.c.name).where(registered_models.c.name == name)
        if conn.execute(query.with_for_update() if lock else query).first() is None:
            raise ModelNotFoundError(name)

    @staticmethod
    def _aliases_of(conn: sa.Connection, name: str) -> dict[int, tuple[str, ...]]:
        out: dict[int, list[str]] = {}
        for r in conn.execute(
            sa.select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        ):
            out.setdefault(int(r.version), []).append(r.alias)
        return {k: tuple(v) for k, v in out.items()}


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT with ``on_conflict_do_nothing`` for the connection's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _version(row: Mapping[Any, Any], aliases: tuple[str, ...]) -> ModelVersion:
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
        signature=None if row["signature"] is None else dict(row["signature"]),
        metrics=dict(row["metrics"] or {}),
        tags=dict(row["tags"] or {}),
        description=row["description"],
        created_by=row["created_by"],
        aliases=aliases,
    )


def _change(row: Mapping[Any, Any]) -> AliasChange:
    return AliasChange(
        id=int(row["id"]),
        name=row["name"],
        alias=row["alias"],
        from_version=None if row["from_version"] is None else int(row["from_version"]),
        to_version=None if row["to_version"] is None else int(row["to_version"]),
        kind=row["kind"],
        actor=row["actor"],
        reason=row["reason"],
        at=as_utc(row["at"]),
    )
