"""The feature registry: apply, diff and look up versioned definitions in the metadata store.

``apply`` writes a new version of a definition only when its spec changed, refuses an
incompatible change (an existing feature's dtype, a view's or entity's join keys) unless
``force=True``, and records what changed. Objects applied in this process are kept as they are
(an on-demand view keeps its function) while their version is the newest stored; others, and
any newer version another process applied, are rebuilt from their stored specs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mloop.errors import (
    FeatureDefinitionError,
    FeatureNotFoundError,
    IncompatibleFeatureChangeError,
)
from mloop.features.definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    kind_of,
    parse_reference,
    spec_digest,
)
from mloop.metadata.feature_definitions import FeatureDefinition, FeatureDefinitionStore

_ORDER = ("entity", "feature_view", "on_demand_feature_view", "feature_service")


@dataclass(frozen=True)
class DefinitionChange:
    """What ``apply`` did (or would do) to one definition. ``action`` is ``create``,
    ``update`` or ``unchanged``; ``incompatible`` lists changes that needed ``force``."""

    kind: str
    name: str
    action: str
    version: int | None
    changes: list[str] = field(default_factory=list)
    incompatible: list[str] = field(default_factory=list)


def _fields(spec: Mapping[str, Any]) -> dict[str, str]:
    return {f["name"]: f["dtype"] for f in spec.get("schema", [])}


def describe_changes(
    kind: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[list, list]:
    """(all changes, incompatible changes) between two specs of one definition, in words."""
    changes, incompatible = [], []
    old_f, new_f = _fields(old), _fields(new)
    for name in sorted(set(old_f) & set(new_f)):
        if old_f[name] != new_f[name]:
            incompatible.append(f"field {name!r} type {old_f[name]} -> {new_f[name]}")
    changes += [f"field {n!r} added" for n in sorted(set(new_f) - set(old_f))]
    changes += [f"field {n!r} removed" for n in sorted(set(old_f) - set(new_f))]
    for key in ("entities", "join_keys", "value_type"):
        if key in old and old.get(key) != new.get(key):
            incompatible.append(f"{key} {old.get(key)} -> {new.get(key)}")
    for key in sorted(set(old) | set(new)):
        if key in ("schema", "entities", "join_keys", "value_type", "name"):
            continue
        if old.get(key) != new.get(key):
            changes.append(f"{key} changed")
    return changes + incompatible, incompatible


class FeatureRegistry:
    """Definitions of one project, stored through a :class:`FeatureDefinitionStore`."""

    def __init__(self, store: FeatureDefinitionStore) -> None:
        self._store = store
        # objects applied here, with the version stored for them: used while that version is
        # still the newest (an on-demand view keeps its function), never over a newer one
        self._live: dict[tuple[str, str], tuple[Definition, int | None]] = {}

    # -- writing ------------------------------------------------------------------------------
    def plan(self, objects: Iterable[Any]) -> list[DefinitionChange]:
        """What :meth:`apply` would do, without storing anything."""
        latest = {(d.kind, d.name): d for d in self._store.latest()}
        plan = []
        for obj in self._expand(objects):
            kind, spec = kind_of(obj), obj.to_spec()
            old = latest.get((kind, obj.name))
            if old is None:
                plan.append(DefinitionChange(kind, obj.name, "create", 1))
            elif old.digest == spec_digest(spec):
                plan.append(DefinitionChange(kind, obj.name, "unchanged", old.version))
            else:
                changes, bad = describe_changes(kind, old.spec, spec)
                plan.append(
                    DefinitionChange(kind, obj.name, "update", old.version + 1, changes, bad)
                )
        return plan

    def apply(self, objects: Iterable[Any], *, force: bool = False) -> list[DefinitionChange]:
        """Store new versions of the changed definitions; raise
        ``IncompatibleFeatureChangeError`` (storing nothing) for an incompatible change unless
        ``force``."""
        objects = self._expand(objects)
        self._check_references(objects)
        plan = self.plan(objects)
        if not force:
            for change in plan:
                if change.incompatible:
                    raise IncompatibleFeatureChangeError(
                        f"{change.kind} {change.name!r}", change.incompatible
                    )
        done = []
        for obj, change in zip(objects, plan, strict=True):
            spec = obj.to_spec()
            if change.action != "unchanged":
                stored = self._store.record(
                    change.kind,
                    obj.name,
                    spec_digest(spec),
                    spec,
                    forced=bool(change.incompatible),
                    change="; ".join(change.changes) or None,
                )
                change = DefinitionChange(
                    change.kind,
                    change.name,
                    change.action,
                    stored.version,
                    change.changes,
                    change.incompatible,
                )
            self._live[(change.kind, obj.name)] = (obj, change.version)
            done.append(change)
        return done

    @staticmethod
    def _expand(objects: Iterable[Any]) -> list[Definition]:
        """The objects plus the entities their views name, deduplicated, in dependency order."""
        seen: dict[tuple[str, str], Definition] = {}
        for obj in objects:
            if isinstance(obj, FeatureView):
                for entity in obj.entities:
                    seen.setdefault(("entity", entity.name), entity)
            key = (kind_of(obj), obj.name)
            if key in seen and seen[key] != obj:
                raise FeatureDefinitionError(f"two different definitions of {key[0]} {key[1]!r}")
            seen[key] = obj
        return sorted(seen.values(), key=lambda o: (_ORDER.index(kind_of(o)), o.name))

    def _check_references(self, objects: list[Definition]) -> None:
        views = {v.name: v for v in self.feature_views().values()}
        views.update({o.name: o for o in objects if isinstance(o, FeatureView)})
        odfvs = {v.name: v for v in self.on_demand_views().values()}
        odfvs.update({o.name: o for o in objects if isinstance(o, OnDemandFeatureView)})
        for obj in objects:
            refs: list[str] = []
            if isinstance(obj, FeatureService):
                refs = obj.feature_refs()
            elif isinstance(obj, OnDemandFeatureView):
                refs = obj.source_features()
            for ref in refs:
                view, feat = parse_reference(ref)
                target = views.get(view) or odfvs.get(view)
                if target is None or feat not in target.feature_names:
                    raise FeatureNotFoundError(ref, [*views, *odfvs])

    # -- reading ------------------------------------------------------------------------------
    def generation(self) -> object:
        """Changes whenever any process applies a definition (see the store's ``generation``)."""
        return self._store.generation()

    def _stored(self, kind: str) -> dict[str, FeatureDefinition]:
        return {d.name: d for d in self._store.latest(kind)}

    def _current_live(self, kind: str, stored: Mapping[str, FeatureDefinition]) -> dict[str, Any]:
        """The objects applied in this process that are still the newest stored version: when
        another process applied a newer one since, its stored spec wins."""
        return {
            name: obj
            for (k, name), (obj, version) in self._live.items()
            if k == kind and (name not in stored or stored[name].version == version)
        }

    def entities(self) -> dict[str, Entity]:
        stored = self._stored("entity")
        found = {n: Entity.from_spec(d.spec) for n, d in stored.items()}
        found.update(self._current_live("entity", stored))
        return found

    def feature_views(self) -> dict[str, FeatureView]:
        stored = self._stored("feature_view")
        entities = self.entities() if stored else {}
        found = {n: FeatureView.from_spec(d.spec, entities) for n, d in stored.items()}
        found.update(self._current_live("feature_view", stored))
        return found

    def on_demand_views(self) -> dict[str, OnDemandFeatureView]:
        stored = self._stored("on_demand_feature_view")
        found = {n: OnDemandFeatureView.from_spec(d.spec) for n, d in stored.items()}
        found.update(self._current_live("on_demand_feature_view", stored))
        return found

    def feature_services(self) -> dict[str, FeatureService]:
        stored = self._stored("feature_service")
        found = {n: FeatureService.from_spec(d.spec) for n, d in stored.items()}
        found.update(self._current_live("feature_service", stored))
        return found

    def get_feature_view(self, name: str) -> FeatureView:
        views = self.feature_views()
        if name not in views:
            raise FeatureNotFoundError(name, list(views))
        return views[name]

    def get_feature_service(self, name: str) -> FeatureService:
        services = self.feature_services()
        if name not in services:
            raise FeatureNotFoundError(name, list(services))
        return services[name]

    def latest_versions(self, kind: str | None = None) -> list[FeatureDefinition]:
        return self._store.latest(kind)

    def history(self, kind: str, name: str) -> list[FeatureDefinition]:
        return self._store.history(kind, name)

    def link_inputs(self, execution_id: str, view_names: Iterable[str]) -> list[FeatureDefinition]:
        """Record the newest stored versions of these views as inputs of an execution."""
        wanted = set(view_names)
        used = [d for d in self._store.latest() if d.name in wanted and d.kind != "entity"]
        self._store.link_inputs(execution_id, used)
        return used
