"""MetadataStore is the sum of its role ABCs, and callers can be typed against one role."""

from __future__ import annotations

from pathlib import Path

from mloop.metadata import (
    ExecutionStore,
    LineageStore,
    MetadataStore,
    RunLeaseStore,
    RunStore,
    TrackingStore,
)
from mloop.metadata.sql.store import SqlMetadataStore

ROLES = (RunStore, RunLeaseStore, ExecutionStore, LineageStore, TrackingStore)


def test_the_roles_partition_the_store_s_abstract_methods() -> None:
    per_role = [set(role.__abstractmethods__) for role in ROLES]
    assert all(3 <= len(methods) <= 7 for methods in per_role)  # narrow ABCs
    union = set().union(*per_role)
    assert sum(len(m) for m in per_role) == len(union)  # no method in two roles
    # record_runs has a (slow, non-atomic) fallback on MetadataStore; open/close are its own
    assert union - {"record_runs"} | {"open", "close"} == set(MetadataStore.__abstractmethods__)


def test_the_sql_store_plays_every_role(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert all(isinstance(store, role) for role in ROLES)
    finally:
        store.close()
