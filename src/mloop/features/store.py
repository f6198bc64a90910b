"""``FeatureStore``: the facade over registry, offline store, online store and materialization.

It only wires things together and delegates; the work lives in ``registry.py``,
``retrieval.py``/``offline_stores``, ``materialize.py`` and ``online.py``. Nothing is opened in the
constructor: the metadata store, the offline store (DuckDB by default) and the online store are
connected on first use.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mloop.errors import FeatureDefinitionError, MissingJoinKeyError
from mloop.features.definitions import FeatureService, FeatureView, OnDemandFeatureView
from mloop.features.frames import RetrievalJob, to_arrow_table
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.online import OnlineReader, normalize_entity_rows
from mloop.features.online_stores.base import OnlineStore
from mloop.features.registry import DefinitionChange, FeatureRegistry
from mloop.features.retrieval import RetrievalPlan, plan_retrieval

_log = logging.getLogger(__name__)

DEFINITIONS_CHECK_S = 1.0
"""Seconds between checks of the registry's generation by a long-lived store (a feature
server, a service): a definition applied by another process is used within this time."""


class FeatureStore:
    """Feature definitions, training sets and online features for the project at ``repo_path``.

    ``online_store``: None (the project's setting, else SQLite under ``.mloop/``), ``"sqlite"``,
    a ``redis://`` URL, a config dict ``{"type": "redis", "url": ...}`` or an ``OnlineStore``.
    Redis keys are prefixed ``mloop:<project>`` unless the config gives a ``namespace``.
    ``offline_store``: None (``features: offline_store:`` in mloop.yaml, else DuckDB), a type
    name, a config dict ``{"type": "duckdb"}`` or an ``OfflineStore``. Both are looked up in the
    backend table of :mod:`mloop.plugins` (see ``backends.py``).
    """

    def __init__(
        self,
        repo_path: str | Path = ".",
        online_store: str | dict[str, Any] | OnlineStore | None = None,
        *,
        offline_store: str | dict[str, Any] | OfflineStore | None = None,
        metadata_url: str | None = None,
        env: str | None = None,
    ) -> None:
        self.repo_path = Path(repo_path).resolve()
        self._env = env  # the environment of mloop.yaml (None: MLOOP_ENV or the default)
        self._online_choice = online_store
        self._offline_choice = offline_store
        self._metadata_url = metadata_url
        self._registry: FeatureRegistry | None = None
        self._offline: OfflineStore | None = None
        self._online: OnlineStore | None = None
        self._plans: dict[tuple[Any, bool], RetrievalPlan] = {}
        self._readers: dict[tuple[Any, bool], Any] = {}
        self._plans_generation: object = None  # the registry's generation the plans come from
        self._plans_checked = float("-inf")  # time.monotonic() of the last check
        self._settings: Any = None

    # -- wiring -------------------------------------------------------------------------------
    @property
    def settings(self) -> Any:
        if self._settings is None:
            from mloop.config import load_settings

            self._settings = load_settings(self.repo_path, env=self._env)
        return self._settings

    @property
    def project(self) -> str:
        """The project's name: ``project:`` in mloop.yaml, else the project folder's name
        (what Redis keys are scoped by)."""
        settings = self.settings
        if settings.project_file is not None and settings.project != "default":
            return str(settings.project)
        return Path(settings.project_dir).name

    @property
    def registry(self) -> FeatureRegistry:
        if self._registry is None:
            from mloop.metadata import connect

            url = self._metadata_url or self.settings.metadata_url
            if str(self.repo_path) not in sys.path:  # on-demand functions live in repo modules
                sys.path.append(str(self.repo_path))
            self._registry = FeatureRegistry(connect(url).feature_definitions())
        return self._registry

    @property
    def offline_store(self) -> OfflineStore:
        if self._offline is None:
            from mloop.features.backends import DEFAULT_OFFLINE, open_offline_store

            choice = self._offline_choice or self.settings.offline_store or DEFAULT_OFFLINE
            self._offline = open_offline_store(choice, self.repo_path)
        return self._offline

    @property
    def online_store(self) -> OnlineStore:
        if self._online is None:
            from mloop.features.backends import DEFAULT_ONLINE, open_online_store

            choice = self._online_choice or self.settings.online_store or DEFAULT_ONLINE
            self._online = open_online_store(choice, self.repo_path, self.project)
        return self._online

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None

    # -- definitions --------------------------------------------------------------------------
    def apply(self, objects: Iterable[Any], *, force: bool = False) -> list[DefinitionChange]:
        """Store (new versions of) definitions; see :meth:`FeatureRegistry.apply`."""
        if not isinstance(objects, Iterable):
            objects = [objects]
        self._forget_plans()
        return self.registry.apply(objects, force=force)

    def plan(self, objects: Iterable[Any]) -> list[DefinitionChange]:
        return self.registry.plan(objects)

    def list_entities(self) -> list[Any]:
        return list(self.registry.entities().values())

    def list_feature_views(self) -> list[FeatureView]:
        return list(self.registry.feature_views().values())

    def list_on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return list(self.registry.on_demand_views().values())

    def list_feature_services(self) -> list[FeatureService]:
        return list(self.registry.feature_services().values())

    def get_feature_view(self, name: str) -> FeatureView:
        return self.registry.get_feature_view(name)

    def get_feature_service(self, name: str) -> FeatureService:
        return self.registry.get_feature_service(name)

    def resolve_features(
        self, features: Sequence[str] | FeatureService | str, full: bool = False
    ) -> RetrievalPlan:
        """The retrieval plan of a request (cached per feature list): which views, which columns."""
        if isinstance(features, str) and ":" not in features:
            features = self.get_feature_service(features)
        refs = features.feature_refs() if isinstance(features, FeatureService) else features
        key = (_cache_key(features), full)
        self._check_plans()
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_retrieval(
                list(refs),
                self.registry.feature_views(),
                self.registry.on_demand_views(),
                full_feature_names=full,
            )
            self._plans[key] = plan
        return plan

    # -- offline ------------------------------------------------------------------------------
    def get_historical_features(
        self,
        entity_df: Any,
        features: Sequence[str] | FeatureService | str,
        *,
        full_feature_names: bool = False,
        event_timestamp_column: str = "event_timestamp",
    ) -> RetrievalJob:
        """Point-in-time correct features for each entity row (see ``retrieval.py``); the
        result keeps every entity row once, in input order. ``features`` is a list of
        ``view:feature`` references, a FeatureService or its name."""
        from mloop.features.historical import historical_features

        plan = self.resolve_features(features, full_feature_names)
        table = to_arrow_table(entity_df)
        if event_timestamp_column not in table.column_names:
            raise MissingJoinKeyError([event_timestamp_column], "the entity rows")
        return historical_features(self.offline_store, plan, table, event_timestamp_column)

    # -- online -------------------------------------------------------------------------------
    def materialize(
        self, start_date: datetime, end_date: datetime, feature_views: Sequence[str] | None = None
    ) -> list[Any]:
        """Write each entity's newest row in ``[start_date, end_date]`` of every online view."""
        from mloop.features.materialize import as_utc, materialize_view

        start_date, end_date = as_utc(start_date, "start_date"), as_utc(end_date, "end_date")
        if start_date > end_date:
            raise FeatureDefinitionError("materialize: start_date must not be after end_date")
        return [
            materialize_view(self.offline_store, self.online_store, view, start_date, end_date)
            for view in self._online_views(feature_views)
        ]

    def materialize_incremental(
        self, end_date: datetime, feature_views: Sequence[str] | None = None
    ) -> list[Any]:
        """Materialize each online view from its watermark (else ``end - ttl``) to ``end_date``,
        reading late rows again: those created after the last run (views with a created-time
        column) and those within the view's ``materialization_lookback`` behind the watermark
        (see ``materialize.incremental_window``)."""
        from mloop.features.materialize import incremental_window, materialize_view

        results = []
        for view in self._online_views(feature_views):
            start, created_after = incremental_window(self.online_store, view, end_date)
            results.append(
                materialize_view(
                    self.offline_store,
                    self.online_store,
                    view,
                    start,
                    end_date,
                    created_after=created_after,
                    track_created=view.created_timestamp_field is not None,
                )
            )
        return results

    def _online_views(self, names: Sequence[str] | None) -> list[FeatureView]:
        if names is not None:
            return [self.get_feature_view(n) for n in names]
        return [v for v in self.list_feature_views() if v.online]

    def push(self, view: str, rows: Any) -> int:
        """Streamed rows: appended to the view's offline log and written online."""
        from mloop.features.materialize import push_rows

        feature_view = self.get_feature_view(view)
        table = to_arrow_table(rows, f"rows pushed to {view!r}")
        return push_rows(self.offline_store, self.online_store, feature_view, table)

    def get_online_features(
        self,
        features: Sequence[str] | FeatureService | str,
        entity_rows: Any,
        *,
        full_feature_names: bool = False,
        as_of: datetime | None = None,
    ) -> Any:
        """The newest values for each entity row -> ``OnlineResponse`` (``.to_dict()``,
        ``.statuses``, ``.status_counts()``). A value older than its view's ttl at ``as_of``
        (default now; naive = UTC) comes back as None with status ``OUTSIDE_MAX_AGE``."""
        key = (_cache_key(features), full_feature_names)
        self._check_plans()
        reader = self._readers.get(key)
        if reader is None:
            reader = OnlineReader(self.resolve_features(features, full_feature_names))
            self._readers[key] = reader
        online = self._online if self._online is not None else self.online_store
        now = None if as_of is None else _epoch_seconds(as_of)
        return reader.read(online, normalize_entity_rows(entity_rows), now)

    def audit(
        self, *, sample: int = 100, feature_views: Sequence[str] | None = None, seed: int = 0
    ) -> Any:
        """Compare online values of ``sample`` entities per online view with a point-in-time
        offline read -> ``AuditReport`` (see ``audit.py``); ``.ok`` is False on a mismatch."""
        from mloop.features.audit import AuditReport, audit_view

        views = self._online_views(feature_views)
        return AuditReport(
            [audit_view(self.offline_store, self.online_store, v, sample, seed) for v in views]
        )

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.repo_path)!r})"

    # -- cached plans -------------------------------------------------------------------------
    def _forget_plans(self) -> None:
        self._plans.clear()
        self._readers.clear()
        self._plans_generation = None
        self._plans_checked = float("-inf")

    def _check_plans(self) -> None:
        """Drop the cached retrieval plans when another process applied definitions since
        they were made (checked at most every :data:`DEFINITIONS_CHECK_S`): a feature server
        must not keep serving a view's old ttl or feature list."""
        now = time.monotonic()
        if now - self._plans_checked < DEFINITIONS_CHECK_S:
            return
        try:
            generation = self.registry.generation()
        except Exception as exc:
            if not self._plans:
                raise  # nothing cached to answer from: the caller learns why
            # the metadata store is down: the online store may still answer with the plans
            # already made (checked again in DEFINITIONS_CHECK_S)
            _log.warning("feature definitions not checked (%s); using the cached plans", exc)
            self._plans_checked = now
            return
        if generation != self._plans_generation:
            self._forget_plans()
            self._plans_generation = generation
        self._plans_checked = now


def _epoch_seconds(value: datetime) -> float:
    from mloop.features.materialize import as_utc

    return as_utc(value, "as_of").timestamp()


def _cache_key(features: Any) -> Any:
    """A hashable key for a feature request (a service by name, references as a tuple)."""
    if isinstance(features, FeatureService):
        return ("service", features.name, tuple(features.feature_refs()))
    return features if isinstance(features, (str, tuple)) else tuple(features)
