"""``mark_artifacts_collected`` on SQLite and a real PostgreSQL: the mark lands in the artifact's
properties next to what was there, other artifacts are untouched, and lineage reads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.metadata.base import COLLECTED_AT, MetadataStore
from mloop.metadata.entities import Artifact, ExecutionState
from mloop.metadata.lineage import lineage
from mloop.metadata.sql.store import SqlMetadataStore

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mloop.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = SqlMetadataStore.open(url)
    yield opened
    opened.close()


def artifact(name: str) -> Artifact:
    return Artifact(
        id=new_id(),
        type="Dataset",
        uri=f"runs/x/{name}",
        digest="0" * 64,
        size=10,
        created_at=utc_now(),
        properties={"rows": 3},
    )


def test_marking_keeps_the_row_and_its_properties(store: MetadataStore) -> None:
    run = store.create_run("e", pipeline_name="p")
    ex = store.create_execution(run.id, "make")
    gone, kept = artifact("gone"), artifact("kept")
    store.finish_execution(
        ex.id,
        ExecutionState.SUCCEEDED,
        new_artifacts=[gone, kept],
        outputs={"a": gone.id, "b": kept.id},
    )
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    store.mark_artifacts_collected([gone.id], at=at)
    store.mark_artifacts_collected([], at=at)  # nothing to do
    marked = store.get_artifact(gone.id)
    assert marked.properties == {"rows": 3, COLLECTED_AT: "2026-01-02T03:04:05+00:00"}
    assert store.get_artifact(kept.id).properties == {"rows": 3}
    assert lineage(store, gone.id, "upstream").state == "collected"
    assert lineage(store, kept.id, "upstream").state is None
