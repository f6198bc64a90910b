"""Property: the DuckDB point-in-time join equals a naive Python scan of the feature rows, for
entity rows and sources of any timestamp type (units, naive = UTC, other time zones)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mloop.features import Entity, FeatureView, Field, FileSource, Float64
from mloop.features.offline_stores.duckdb import DuckDBOfflineStore
from mloop.features.retrieval import plan_retrieval

T0 = datetime(2024, 1, 1)
TIME_TYPES = [
    pa.timestamp("us"),
    pa.timestamp("ns"),
    pa.timestamp("s"),
    pa.timestamp("ms", "UTC"),
    pa.timestamp("ns", "UTC"),
    pa.timestamp("us", "America/New_York"),
    pa.timestamp("ns", "Asia/Kolkata"),
]

feature_rows = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 20), st.integers(0, 3)), max_size=25
)
entity_rows = st.lists(st.tuples(st.integers(1, 4), st.integers(0, 25)), min_size=1, max_size=20)
ttls = st.one_of(st.none(), st.integers(1, 10))
time_types = st.sampled_from(TIME_TYPES)


def times(hours: list[int], kind: pa.DataType) -> pa.Array:
    """``T0 + hours`` (UTC instants) as ``kind``; a naive kind holds the UTC wall time."""
    naive = pa.array([T0 + timedelta(hours=h) for h in hours], pa.timestamp("us"))
    if kind.tz is None:
        return naive.cast(kind)
    aware = [(T0 + timedelta(hours=h)).replace(tzinfo=timezone.utc) for h in hours]
    return pa.array(aware, pa.timestamp("us", "UTC")).cast(kind)


def naive(features, entities, ttl):
    """For each entity row: the value of the row with the greatest (event time, created) among
    rows with the same key, event time <= the row's time, and within ttl; else None."""
    out = []
    for key, ets in entities:
        best = None
        for i, (fkey, fts, created) in enumerate(features):
            if fkey != key or fts > ets or (ttl is not None and fts < ets - ttl):
                continue
            if best is None or (fts, created, i) > best[0]:
                best = ((fts, created, i), float(i))
        out.append(None if best is None else best[1])
    return out


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    features=feature_rows,
    entities=entity_rows,
    ttl=ttls,
    source_type=time_types,
    entity_type=time_types,
)
def test_join_matches_naive_scan(features, entities, ttl, source_type, entity_type) -> None:
    # (key, time, created) triples may repeat: then the later row index is the later-created
    # one, so give it a created time that breaks the tie the same way.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.parquet"
        created = [T0 + timedelta(hours=c, microseconds=i) for i, (_, _, c) in enumerate(features)]
        table = pa.table(
            {
                "k": pa.array([f[0] for f in features], pa.int64()),
                "ts": times([f[1] for f in features], source_type),
                "created": pa.array(created, pa.timestamp("us")),
                "v": pa.array([float(i) for i in range(len(features))], pa.float64()),
            }
        )
        pq.write_table(table, path)
        view = FeatureView(
            "fv",
            [Entity("k")],
            [Field("v", Float64)],
            FileSource(str(path), timestamp_field="ts", created_timestamp_column="created"),
            ttl=None if ttl is None else timedelta(hours=ttl),
        )
        plan = plan_retrieval(["fv:v"], {"fv": view}, {})
        rows = pa.table(
            {
                "k": pa.array([e[0] for e in entities], pa.int64()),
                "event_timestamp": times([e[1] for e in entities], entity_type),
            }
        )
        got = DuckDBOfflineStore(tmp, Path(tmp) / "log").get_historical_features(
            rows, "event_timestamp", plan.views
        )
    assert got.column("k").to_pylist() == [e[0] for e in entities]
    assert got.column("event_timestamp").equals(rows.column("event_timestamp"))
    assert got.column("v").to_pylist() == naive(features, entities, ttl)
