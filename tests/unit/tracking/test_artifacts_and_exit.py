"""log_artifact (bytes in the artifact store, a File artifact on the run) and the exit flush."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mloop
from mloop.artifacts import connect as connect_artifacts
from mloop.errors import ValidationError
from mloop.metadata.entities import EventKind
from mloop.metadata.lineage import lineage
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.tracking.fluent import ARTIFACT_TAG_PREFIX


def test_log_artifact_stores_a_file_and_a_folder(tmp_path: Path) -> None:
    store = SqlMetadataStore.open(f"sqlite:///{tmp_path / 'm.db'}")
    files = connect_artifacts(str(tmp_path / "artifacts"))
    (tmp_path / "roc.txt").write_text("auc=0.9")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.csv").write_text("x,y\n1,2\n")
    with mloop.start_run(store=store, artifacts=files) as run:
        single = mloop.log_artifact(tmp_path / "roc.txt")
        folder = mloop.log_artifact(tmp_path / "plots", name="figures")
        with pytest.raises(ValidationError, match="does not exist"):
            mloop.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(ValidationError, match="relative path"):
            mloop.log_artifact(tmp_path / "roc.txt", name="../escape")
    assert store.get_artifact(single.id) == single
    assert (single.type, single.properties["name"]) == ("File", "roc.txt")
    with files.open_local(single.uri, digest=single.digest) as local:
        assert (local / "roc.txt").read_text() == "auc=0.9"
    with files.open_local(folder.uri, digest=folder.digest) as local:
        assert (local / "a.csv").read_text() == "x,y\n1,2\n"
    tags = store.get_run(run.id).tags
    assert tags[ARTIFACT_TAG_PREFIX + "roc.txt"] == single.id
    assert tags[ARTIFACT_TAG_PREFIX + "figures"] == folder.id
    [event] = store.list_events(artifact_id=folder.id)
    assert (event.kind, event.name) == (EventKind.OUTPUT, "figures")
    tree = lineage(store, run.id)
    assert {c.children[0].id for c in tree.children} == {single.id, folder.id}
    store.close()


@pytest.mark.integration
def test_buffered_metrics_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    script = textwrap.dedent(
        f"""
        import mloop
        from mloop.metadata.sql.store import SqlMetadataStore
        run = mloop.start_run(store=SqlMetadataStore.open({url!r}))
        mloop.log_metrics({{"loss": 0.25}}, step=7)
        print(run.id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    store = SqlMetadataStore.open(url)
    [metric] = store.get_metrics(done.stdout.strip())
    assert (metric.key, metric.value, metric.step) == ("loss", 0.25, 7)
    store.close()
