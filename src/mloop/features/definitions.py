"""Feature definitions in Python, with Feast's names: Entity, Field, FeatureView, FeatureService,
OnDemandFeatureView.

Definitions are values: they do no I/O, validate themselves on construction, and turn into a
JSON spec (``to_spec``) whose digest versions them in the metadata store. Feature references are
written ``"view:feature"``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mloop._utils.hashing import digest_json, sha256_bytes
from mloop.errors import FeatureDefinitionError
from mloop.features.sources import DataSource, RequestSource, source_from_spec

# Feast-style dtype names (``from mloop.features import Int64``); a dtype is its string name.
Int32, Int64, Float32, Float64 = "int32", "int64", "float32", "float64"
String, Bool, Bytes, UnixTimestamp = "string", "bool", "bytes", "timestamp"
DTYPES = frozenset({Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp})
"""Every dtype a Field or an Entity key may have."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise FeatureDefinitionError(
            f"{what} name {name!r} is not valid: use letters, digits and '_' (not first a digit)"
        )


def _check_dtype(where: str, dtype: str) -> None:
    if dtype not in DTYPES:
        raise FeatureDefinitionError(f"{where}: dtype {dtype!r} is not one of {sorted(DTYPES)}")


@dataclass(frozen=True)
class Field:
    """A named, typed column of a feature view (``Field(name="temp", dtype=Float64)``)."""

    name: str
    dtype: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("Field", self.name)
        _check_dtype(f"Field {self.name!r}", self.dtype)


@dataclass(frozen=True)
class Entity:
    """What features describe (a customer, an airport): its join keys and their value type."""

    name: str
    join_keys: Sequence[str] | None = None
    value_type: str = Int64
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        _check_name("Entity", self.name)
        keys = list(self.join_keys) if self.join_keys else [self.name]
        for key in keys:
            _check_name(f"Entity {self.name!r} join key", key)
        object.__setattr__(self, "join_keys", tuple(keys))
        object.__setattr__(self, "tags", dict(self.tags))
        _check_dtype(f"Entity {self.name!r}", self.value_type)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys or ()),
            "value_type": self.value_type,
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        return cls(**dict(spec))


@dataclass(frozen=True)
class FeatureView:
    """A group of features with one source, keyed by entities, valid for ``ttl`` after their
    event time. ``timestamp_field``/``created_timestamp_field`` default to the source's.

    ``materialization_lookback``: how far behind the watermark ``materialize_incremental``
    reads again, to catch rows that land late with an older event time. None: 0 when the view
    has a created-time column (late rows are found by their created time), else one day.
    A longer lookback catches later rows but rewrites more entities per run."""

    name: str
    entities: Sequence[Entity]
    schema: Sequence[Field]
    source: DataSource
    ttl: timedelta | None = None
    online: bool = True
    timestamp_field: str | None = None
    created_timestamp_field: str | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""
    materialization_lookback: timedelta | None = None

    def __post_init__(self) -> None:
        _check_name("FeatureView", self.name)
        if not self.entities or not all(isinstance(e, Entity) for e in self.entities):
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r}: entities must be a non-empty list of Entity objects"
            )
        if not isinstance(self.source, DataSource):
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r}: source must be a FileSource or SqlSource"
            )
        if self.ttl is not None and (
            not isinstance(self.ttl, timedelta) or self.ttl <= timedelta(0)
        ):
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r}: ttl must be a positive timedelta or None (forever)"
            )
        keys = [k for e in self.entities for k in e.join_keys or ()]
        ts = self.timestamp_field or self.source.timestamp_field
        created = self.created_timestamp_field or self.source.created_timestamp_column
        features = [f for f in self.schema if f.name not in keys]  # Feast lists keys in schema
        names = [f.name for f in features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FeatureDefinitionError(f"FeatureView {self.name!r}: duplicate fields {dupes}")
        if not features:
            raise FeatureDefinitionError(f"FeatureView {self.name!r} has no feature fields")
        clash = {ts, created} & set(names)
        if clash:
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r}: {sorted(c for c in clash if c)} is a timestamp "
                "column, not a feature"
            )
        lookback = self.materialization_lookback
        if lookback is not None and (
            not isinstance(lookback, timedelta) or lookback < timedelta(0)
        ):
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r}: materialization_lookback must be a timedelta >= 0 "
                "or None (the default)"
            )
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "schema", tuple(features))
        object.__setattr__(self, "timestamp_field", ts)
        object.__setattr__(self, "created_timestamp_field", created)
        object.__setattr__(self, "tags", dict(self.tags))

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for e in self.entities for k in e.join_keys or ())

    @property
    def features(self) -> tuple[Field, ...]:
        return tuple(self.schema)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.schema]

    def __getitem__(self, names: Iterable[str]) -> FeatureViewProjection:
        """``view[["a", "b"]]``: a subset of this view's features (for a FeatureService)."""
        wanted = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in wanted if n not in self.feature_names]
        if unknown:
            raise FeatureDefinitionError(
                f"FeatureView {self.name!r} has no feature(s) {unknown}; "
                f"it has {self.feature_names}"
            )
        return FeatureViewProjection(self.name, tuple(wanted))

    def to_spec(self) -> dict[str, Any]:
        spec = {
            "name": self.name,
            "entities": [e.name for e in self.entities],
            "schema": [{"name": f.name, "dtype": f.dtype} for f in self.schema],
            "source": self.source.to_spec(),
            "ttl_s": None if self.ttl is None else self.ttl.total_seconds(),
            "online": self.online,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_field": self.created_timestamp_field,
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }
        if self.materialization_lookback is not None:  # absent by default: digests unchanged
            spec["materialization_lookback_s"] = self.materialization_lookback.total_seconds()
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], entities: Mapping[str, Entity]) -> FeatureView:
        missing = [e for e in spec["entities"] if e not in entities]
        if missing:
            raise FeatureDefinitionError(
                f"stored FeatureView {spec['name']!r} names unknown entities {missing}"
            )
        return cls(
            name=spec["name"],
            entities=[entities[e] for e in spec["entities"]],
            schema=[Field(f["name"], f["dtype"]) for f in spec["schema"]],
            source=source_from_spec(spec["source"]),
            ttl=None if spec["ttl_s"] is None else timedelta(seconds=spec["ttl_s"]),
            online=spec["online"],
            timestamp_field=spec["timestamp_field"],
            created_timestamp_field=spec["created_timestamp_field"],
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
            owner=spec.get("owner", ""),
            materialization_lookback=(
                None
                if spec.get("materialization_lookback_s") is None
                else timedelta(seconds=spec["materialization_lookback_s"])
            ),
        )


@dataclass(frozen=True)
class FeatureViewProjection:
    """Some features of one view, by name (what ``view[["a", "b"]]`` returns)."""

    view: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class OnDemandFeatureView:
    """Features computed from request data and other views' features by a Python function of a
    Polars DataFrame; the same function runs in offline retrieval and online reads.

    ``udf(frame) -> frame``: the input has one column per request field and per source feature
    (bare names), one row per entity row; the output has the schema's columns.
    """

    name: str
    sources: Sequence[FeatureView | FeatureViewProjection | RequestSource]
    schema: Sequence[Field]
    udf: Callable[[Any], Any] | None
    udf_ref: str = ""
    udf_digest: str = ""
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        _check_name("OnDemandFeatureView", self.name)
        if not self.schema:
            raise FeatureDefinitionError(f"OnDemandFeatureView {self.name!r} has no fields")
        for s in self.sources:
            if not isinstance(s, (FeatureView, FeatureViewProjection, RequestSource)):
                raise FeatureDefinitionError(
                    f"OnDemandFeatureView {self.name!r}: source {s!r} is not a FeatureView, "
                    "a projection view[[...]] or a RequestSource"
                )
        if self.udf is not None:
            if not self.udf_ref:
                module, qual = self.udf.__module__, self.udf.__qualname__
                object.__setattr__(self, "udf_ref", f"{module}:{qual}")
            if not self.udf_digest:
                try:
                    text = inspect.getsource(self.udf)
                except (OSError, TypeError):
                    text = self.udf_ref
                object.__setattr__(self, "udf_digest", sha256_bytes(text.encode()))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "schema", tuple(self.schema))

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.schema]

    @property
    def request_fields(self) -> list[Field]:
        return [f for s in self.sources if isinstance(s, RequestSource) for f in s.schema]

    def source_features(self) -> list[str]:
        """The stored features this view reads, as ``view:feature`` references."""
        refs: list[str] = []
        for s in self.sources:
            if isinstance(s, FeatureView):
                refs += [f"{s.name}:{n}" for n in s.feature_names]
            elif isinstance(s, FeatureViewProjection):
                refs += [f"{s.view}:{n}" for n in s.features]
        return refs

    def transform(self, frame: Any) -> Any:
        """Run the user's function on a Polars DataFrame and check its output columns."""
        if self.udf is None:
            raise FeatureDefinitionError(
                f"on-demand view {self.name!r}: its function {self.udf_ref!r} cannot be imported "
                "in this process; import the module that defines it, or apply it again"
            )
        out = self.udf(frame)
        missing = [n for n in self.feature_names if n not in getattr(out, "columns", [])]
        if missing or len(out) != len(frame):
            raise FeatureDefinitionError(
                f"on-demand view {self.name!r}: its function must return a DataFrame with "
                f"{len(frame)} rows and columns {self.feature_names} (missing {missing})"
            )
        return out

    def to_spec(self) -> dict[str, Any]:
        sources: list[dict[str, Any]] = []
        for s in self.sources:
            if isinstance(s, FeatureView):
                sources.append({"type": "view", "view": s.name, "features": s.feature_names})
            elif isinstance(s, FeatureViewProjection):
                sources.append({"type": "view", "view": s.view, "features": list(s.features)})
            else:
                sources.append(s.to_spec())
        return {
            "name": self.name,
            "sources": sources,
            "schema": [{"name": f.name, "dtype": f.dtype} for f in self.schema],
            "udf": self.udf_ref,
            "udf_digest": self.udf_digest,
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> OnDemandFeatureView:
        sources: list[Any] = []
        for s in spec["sources"]:
            if s["type"] == "view":
                sources.append(FeatureViewProjection(s["view"], tuple(s["features"])))
            else:
                fields = [Field(f["name"], f["dtype"]) for f in s["schema"]]
                sources.append(RequestSource(s["name"], fields))
        return cls(
            name=spec["name"],
            sources=sources,
            schema=[Field(f["name"], f["dtype"]) for f in spec["schema"]],
            udf=_import_udf(spec["udf"]),
            udf_ref=spec["udf"],
            udf_digest=spec["udf_digest"],
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
            owner=spec.get("owner", ""),
        )


def _import_udf(ref: str) -> Callable[[Any], Any] | None:
    module, _, qual = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    if isinstance(obj, OnDemandFeatureView):
        return obj.udf
    return obj


def on_demand_feature_view(
    *, sources: Sequence[Any], schema: Sequence[Field], name: str | None = None, **kwargs: Any
) -> Callable[[Callable[[Any], Any]], OnDemandFeatureView]:
    """Decorator form: ``@on_demand_feature_view(sources=[...], schema=[...])`` on a function
    of a Polars DataFrame."""

    def wrap(func: Callable[[Any], Any]) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=name or func.__name__, sources=sources, schema=schema, udf=func, **kwargs
        )

    return wrap


@dataclass(frozen=True)
class FeatureService:
    """A named set of features a model uses (``FeatureService("delay_v1", [weather, ...])``)."""

    name: str
    features: Sequence[FeatureView | FeatureViewProjection | OnDemandFeatureView]
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        _check_name("FeatureService", self.name)
        if not self.features:
            raise FeatureDefinitionError(f"FeatureService {self.name!r} lists no features")
        object.__setattr__(self, "features", tuple(self.features))

    def feature_refs(self) -> list[str]:
        refs: list[str] = []
        for item in self.features:
            if isinstance(item, FeatureViewProjection):
                refs += [f"{item.view}:{n}" for n in item.features]
            elif isinstance(item, (FeatureView, OnDemandFeatureView)):
                refs += [f"{item.name}:{n}" for n in item.feature_names]
            else:
                raise FeatureDefinitionError(
                    f"FeatureService {self.name!r}: {item!r} is not a view or a projection"
                )
        return refs

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "features": self.feature_refs(),
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureService:
        grouped: dict[str, list[str]] = {}
        for ref in spec["features"]:
            view, _, feat = ref.partition(":")
            grouped.setdefault(view, []).append(feat)
        projections = [FeatureViewProjection(v, tuple(f)) for v, f in grouped.items()]
        return cls(
            spec["name"],
            projections,
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
            owner=spec.get("owner", ""),
        )


Definition = Entity | FeatureView | OnDemandFeatureView | FeatureService

KINDS: dict[type, str] = {
    Entity: "entity",
    FeatureView: "feature_view",
    OnDemandFeatureView: "on_demand_feature_view",
    FeatureService: "feature_service",
}


def kind_of(obj: Any) -> str:
    """The registry kind of a definition object; raises for anything else."""
    kind = KINDS.get(type(obj))
    if kind is None:
        raise FeatureDefinitionError(
            f"{obj!r} is not an Entity, FeatureView, OnDemandFeatureView or FeatureService"
        )
    return kind


def spec_digest(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a spec: the version identity of a definition."""
    return digest_json(dict(spec))


def parse_reference(ref: str) -> tuple[str, str]:
    """``"view:feature"`` -> ``("view", "feature")``; raises on anything else."""
    view, sep, feat = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if not sep or not view or not feat:
        raise FeatureDefinitionError(
            f"feature reference {ref!r} must be written 'view:feature' (e.g. 'weather:temp')"
        )
    return view, feat
