"""Online/offline consistency: are the online values what a point-in-time offline read gives?

For each online view, ``audit_view`` samples entities from the view's offline rows, reads their
online values (raw, without the ttl: a stale value is still a stored value), and reads the
offline value each should hold: the point-in-time row (no ttl) at the view's watermark, or at
the online row's event time when that is later (a pushed row), or now when the view was never
materialized. A difference is a mismatch: a late row that materialization missed, a row written
by hand, a source rewritten after materialization. Rows newer than the watermark are not
expected online yet, so they are not mismatches.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from mloop.features.definitions import FeatureView
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.online import coerce_key
from mloop.features.online_stores.base import OnlineStore, encode_entity_key
from mloop.features.retrieval import plan_retrieval

_TOLERANCE = {"float32": 1e-6, "float64": 1e-12}
"""Relative tolerance (the JSON text of a float may round its last digit)."""
_AS_OF = "__mloop_audit_as_of"


@dataclass(frozen=True)
class Mismatch:
    """One feature of one entity whose online value differs from the offline one."""

    view: str
    entity: dict[str, Any]
    feature: str
    online: Any
    offline: Any
    as_of: datetime
    online_event_time: datetime | None


@dataclass(frozen=True)
class FeatureAudit:
    """Per feature: how many sampled entities were compared, how many differed."""

    view: str
    feature: str
    checked: int
    mismatches: int


@dataclass(frozen=True)
class ViewAudit:
    view: str
    sampled: int
    watermark: datetime | None
    features: list[FeatureAudit] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass(frozen=True)
class AuditReport:
    """What ``FeatureStore.audit`` found; ``ok`` when no sampled value differs."""

    views: list[ViewAudit]

    @property
    def mismatch_count(self) -> int:
        return sum(f.mismatches for v in self.views for f in v.features)

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{ok, mismatches, views: [{view, sampled, watermark, features:
        [{view, feature, checked, mismatches}], mismatches: [...]}]}`` (times ISO-8601)."""
        return {
            "ok": self.ok,
            "mismatches": self.mismatch_count,
            "views": [_jsonable(asdict(v)) for v in self.views],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def same_value(online: Any, offline: Any, dtype: str) -> bool:
    """Whether a stored online value (decoded JSON) equals the offline value of a feature."""
    if offline is None or (isinstance(offline, float) and math.isnan(offline)):
        return online is None
    if online is None:
        return False
    if dtype in _TOLERANCE:
        try:
            return math.isclose(float(online), float(offline), rel_tol=_TOLERANCE[dtype])
        except (TypeError, ValueError):
            return False
    if isinstance(offline, datetime):
        try:
            parsed = datetime.fromisoformat(str(online))
        except ValueError:
            return False
        return _utc(parsed) == _utc(offline)
    return bool(online == offline)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def audit_view(
    offline: OfflineStore, online: OnlineStore, view: FeatureView, sample: int, seed: int = 0
) -> ViewAudit:
    """Sample up to ``sample`` entities of ``view`` and compare online with offline values."""
    entities = offline.sample_entities(view, sample, seed=seed)
    key_rows = entities.to_pylist()
    dtypes = {k: e.value_type for e in view.entities for k in e.join_keys or ()}
    keys = [
        encode_entity_key([coerce_key(row[k], dtypes[k], k) for k in view.join_keys])
        for row in key_rows
    ]
    features = view.feature_names
    stored = online.read(view.name, keys, features) if keys else []
    mark = online.get_watermark(view.name)
    now = datetime.now(timezone.utc).timestamp()
    as_of = []
    for hit in stored:
        times = [t for t in (mark, None if hit is None else hit[1]) if t is not None]
        as_of.append(datetime.fromtimestamp(max(times) if times else now, timezone.utc))
    watermark = None if mark is None else datetime.fromtimestamp(mark, timezone.utc)
    if not key_rows:
        return ViewAudit(
            view.name, 0, watermark, [FeatureAudit(view.name, f, 0, 0) for f in features]
        )
    rows = entities.append_column(_AS_OF, pa.array(as_of, pa.timestamp("us", "UTC")))
    untimed = replace(view, ttl=None)  # online holds a row whatever its age
    plan = plan_retrieval([f"{view.name}:{f}" for f in features], {view.name: untimed}, {})
    expected = offline.get_historical_features(rows, _AS_OF, plan.views)
    mismatches: list[Mismatch] = []
    audits = []
    for i, feature in enumerate(features):
        dtype = view.schema[i].dtype
        if dtype == "bytes":  # stored as JSON text, which does not give the bytes back
            audits.append(FeatureAudit(view.name, feature, 0, 0))
            continue
        wanted = expected.column(feature).to_pylist()
        bad = 0
        for j, hit in enumerate(stored):
            value = None if hit is None else hit[0][i]
            if same_value(value, wanted[j], dtype):
                continue
            bad += 1
            mismatches.append(
                Mismatch(
                    view.name,
                    key_rows[j],
                    feature,
                    value,
                    wanted[j],
                    as_of[j],
                    None if hit is None else datetime.fromtimestamp(hit[1], timezone.utc),
                )
            )
        audits.append(FeatureAudit(view.name, feature, len(stored), bad))
    return ViewAudit(view.name, len(key_rows), watermark, audits, mismatches)
