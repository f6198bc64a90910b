"""Steps that read local files by path: the file's content keys the cache (issue 15, point 1).

Before the fix a step taking ``path: str`` was cached on the string, so rewriting the file
handed out the old outputs and let a validation gate be bypassed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mloop
from mloop import pipeline, step
from mloop.config import load_settings
from mloop.errors import FileInputNotFoundError, StepExecutionError
from mloop.metadata import connect as connect_metadata
from mloop.metadata.entities import Artifact, EventKind, ExecutionState, RunState
from mloop.metadata.lineage import file_lineage, file_reads
from mloop.pipelines import fingerprints as fp_module
from mloop.pipelines.caching import cache_key
from mloop.pipelines.file_inputs import declared_file_params

WHEN = fp_module.utc_now()


@step
def ingest(path: str) -> pl.DataFrame:
    return pl.read_parquet(path)


@step
def gate(df: pl.DataFrame) -> pl.DataFrame:
    """A validation gate: no nulls in ``amount``."""
    nulls = df["amount"].null_count()
    if nulls:
        raise ValueError(f"validation failed: {nulls} null amount(s)")
    return df


@step
def total(df: pl.DataFrame) -> float:
    return float(df["amount"].sum())


@pipeline
def by_path(path: str = "data/in.parquet"):
    total(gate(ingest(path)))


@step
def read_folder(folder: str) -> int:
    return sum(pl.read_csv(p).height for p in sorted(Path(folder).glob("*.csv")))


@pipeline
def by_folder(folder: str = "data/incoming"):
    read_folder(folder)


@step
def declared(path: mloop.FileInput) -> int:  # type: ignore[valid-type]
    return len(Path(path).read_bytes())


@pipeline
def with_declared(path: str = "data/raw.bin"):
    declared(path)


@step
def echo(mode: str) -> str:
    return mode


@pipeline
def plain(mode: str = "fast"):
    echo(mode)


def write(path: Path, amounts: list[float | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(
        {
            "amount": pl.Series(amounts, dtype=pl.Float64),
            "at": pl.Series(
                [f"2026-01-0{i % 9 + 1}T00:00:00+00:00" for i in range(len(amounts))]
            ).str.to_datetime(time_zone="UTC"),
        }
    )
    frame.write_parquet(path)


def states(handle) -> dict[str, str]:
    latest = {e.step_name: e.state.value for e in handle.executions}
    return latest


def age(path: Path, seconds: float = 60.0) -> None:
    """Move the file's mtime into the past, out of the racy window, as an old file is."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_rewritten_parquet_is_read_again(project_dir: Path):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0, 2.0])
    first = by_path.run()
    assert first.outputs["total"] == 3.0
    again = by_path.run()
    assert set(states(again).values()) == {"cached"}

    write(data, [10.0, 20.0, 30.0])
    third = by_path.run()
    assert states(third) == {"ingest": "succeeded", "gate": "succeeded", "total": "succeeded"}
    assert third.outputs["total"] == 60.0


def test_the_validation_gate_is_not_bypassed(project_dir: Path):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0, 2.0])
    assert by_path.run().state is RunState.SUCCEEDED
    write(data, [1.0, None])  # same path, bad content
    with pytest.raises(StepExecutionError, match="1 null amount"):
        by_path.run()


def test_touch_rehashes_but_stays_cached(project_dir: Path, monkeypatch):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0, 2.0])
    age(data, 120)
    hashed: list[str] = []
    real = fp_module.sha256_file
    monkeypatch.setattr(fp_module, "sha256_file", lambda p: hashed.append(str(p)) or real(p))

    by_path.run()
    assert hashed == [str(data)]
    by_path.run()  # unchanged size and mtime: the memo answers, no hashing
    assert hashed == [str(data)]

    age(data, 60)  # touched: same bytes, new mtime
    handle = by_path.run()
    assert hashed == [str(data), str(data)]  # SHA-256 recomputed ...
    assert set(states(handle).values()) == {"cached"}  # ... and the content is the same


def test_folder_listing_changes_invalidate(project_dir: Path):
    incoming = project_dir / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "a.csv").write_text("x\n1\n2\n")
    assert by_folder.run().outputs["read_folder"] == 2
    assert states(by_folder.run()) == {"read_folder": "cached"}

    (incoming / ".a.csv.tmp").write_text("partial")  # a writer's temporary: ignored
    assert states(by_folder.run()) == {"read_folder": "cached"}

    (incoming / "b.csv").write_text("x\n3\n")
    added = by_folder.run()
    assert states(added) == {"read_folder": "succeeded"} and added.outputs["read_folder"] == 3

    (incoming / "sub").mkdir()
    (incoming / "sub" / "c.txt").write_text("nested")
    assert states(by_folder.run()) == {"read_folder": "succeeded"}  # recursive listing

    (incoming / "b.csv").unlink()
    removed = by_folder.run()
    assert states(removed) == {"read_folder": "succeeded"}
    assert removed.outputs["read_folder"] == 2


def test_file_inputs_are_recorded_and_lineage_finds_the_runs(project_dir: Path):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0])
    first_size = data.stat().st_size
    first = by_path.run()
    cached = by_path.run()
    write(data, [2.0, 3.0])
    third = by_path.run()

    md = connect_metadata(load_settings(project_dir).metadata_url)
    ingest_ex = next(e for e in first.executions if e.step_name == "ingest")
    events = [e for e in md.list_events(execution_id=ingest_ex.id) if e.kind is EventKind.INPUT]
    (event,) = events
    art = md.get_artifact(event.artifact_id)
    assert event.name == "path" and art.type == "File"
    assert art.uri == data.as_uri() and art.size == first_size

    reads = file_reads(md, "data/in.parquet")
    assert [r.run_id for r in reads] == [third.id, cached.id, first.id]
    assert len({r.artifact.digest for r in reads}) == 2  # two content versions
    assert reads[1].state == ExecutionState.CACHED.value

    tree = file_lineage(md, data)
    assert [len(v.children) for v in tree.children] == [1, 2]  # newest version first
    assert {n.id for v in tree.children for n in v.children} == {first.id, cached.id, third.id}

    # a file inside a folder that a step read counts as read by that step
    incoming = project_dir / "data" / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text("x\n1\n")
    folder_run = by_folder.run()
    (read,) = file_reads(md, incoming / "a.csv")
    assert read.run_id == folder_run.id and read.artifact.type == "Directory"


def test_a_string_naming_nothing_stays_a_plain_value(project_dir: Path):
    handle = plain.run(mode="fast")
    md = connect_metadata(load_settings(project_dir).metadata_url)
    (ex,) = handle.executions
    assert md.list_events(execution_id=ex.id)[0].kind is EventKind.OUTPUT
    assert len(md.list_events(execution_id=ex.id)) == 1
    (project_dir / "fast").write_text("now a file")  # the same string now names a file
    assert states(plain.run(mode="fast")) == {"echo": "succeeded"}


def test_declared_file_input_must_exist_before_the_run_starts(project_dir: Path):
    with pytest.raises(FileInputNotFoundError, match=r"data/raw\.bin"):
        with_declared.run()
    md = connect_metadata(load_settings(project_dir).metadata_url)
    assert md.search_runs(pipeline_name="with_declared") == []  # refused before recording
    raw = project_dir / "data" / "raw.bin"
    raw.parent.mkdir()
    raw.write_bytes(b"\x00\x01")
    assert with_declared.run().outputs["declared"] == 2


def test_file_input_annotations_are_recognised():
    def f(
        a: mloop.FileInput,  # type: ignore[valid-type]
        b: Annotated[str, mloop.FileInput],
        c: list[Annotated[str, mloop.FileInput]],
        d: str,
        e: Annotated[str, "other"],
    ) -> None: ...

    assert declared_file_params(f) == {"a", "b", "c"}


def test_changed_input_file_is_run_again_on_resume(project_dir: Path):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0, None])
    with pytest.raises(StepExecutionError) as failed:
        by_path.run()  # the gate fails; ingest succeeded
    run_id = failed.value.run_id
    write(data, [4.0, 5.0])  # the data is fixed at the source
    handle = by_path.run_with({}, resume=run_id)
    assert handle.id == run_id and handle.state is RunState.SUCCEEDED
    assert handle.outputs["total"] == 9.0  # the fixed rows, not the ones read before
    history = [(e.step_name, e.state.value) for e in handle.executions]
    assert history.count(("ingest", "succeeded")) == 2  # read again on resume


def test_unchanged_input_file_is_reused_on_resume(project_dir: Path):
    data = project_dir / "data" / "in.parquet"
    write(data, [1.0, None])
    with pytest.raises(StepExecutionError) as failed:
        by_path.run()
    with pytest.raises(StepExecutionError):
        by_path.run_with({}, resume=failed.value.run_id)  # still bad: only the gate re-ran
    md = connect_metadata(load_settings(project_dir).metadata_url)
    history = [e.step_name for e in md.list_executions(failed.value.run_id)]
    assert history.count("ingest") == 1 and history.count("gate") == 2


def test_memo_is_shared_across_runs_and_skips_racy_files(project_dir: Path):
    data = project_dir / "big.bin"
    data.write_bytes(os.urandom(4096))
    md = connect_metadata(load_settings(project_dir).metadata_url)
    printer = fp_module.Fingerprinter(md.file_fingerprints(), host="h1")
    art = printer.artifact(data)
    assert md.file_fingerprints().get("h1", [str(data)]) == {}  # just written: racy, not kept
    age(data)
    assert printer.artifact(data).digest == art.digest
    (kept,) = md.file_fingerprints().get("h1", [str(data)]).values()
    assert kept.digest == art.digest and kept.size == 4096
    assert md.file_fingerprints().get("h2", [str(data)]) == {}  # per host


digests = st.text("0123456789abcdef", min_size=64, max_size=64)


def file_art(digest: str, kind: str = "File") -> Artifact:
    return Artifact(
        id=digest[:32], type=kind, uri="file:///x", digest=digest, size=1, created_at=WHEN
    )


@given(digests, digests, st.sampled_from(["File", "Directory"]))
def test_key_changes_exactly_with_file_content(d1, d2, kind):
    k1 = cache_key("s", "c", {"path": "x"}, {}, {"path": file_art(d1, kind)})
    k2 = cache_key("s", "c", {"path": "x"}, {}, {"path": file_art(d2, kind)})
    assert (k1 == k2) == (d1 == d2)
    assert k1 != cache_key("s", "c", {"path": "x"}, {})


@step(detect_files=False)
def writes_into(folder: str) -> int:
    target = Path(folder)
    target.mkdir(exist_ok=True)
    (target / f"{len(list(target.iterdir()))}.txt").write_text("report")
    return 1


@pipeline
def writer(folder: str = "reports"):
    writes_into(folder)


def test_detect_files_false_keeps_an_output_folder_out_of_the_key(project_dir: Path):
    (project_dir / "reports").mkdir()
    writer.run()
    assert states(writer.run()) == {"writes_into": "cached"}  # its own writes do not count


def test_upstream_string_naming_a_file_is_fingerprinted(project_dir: Path):
    @step
    def where() -> str:
        return "data/in.parquet"

    @pipeline
    def indirect():
        total(ingest(where()))

    data = project_dir / "data" / "in.parquet"
    write(data, [1.0])
    assert indirect.run().outputs["total"] == 1.0
    write(data, [1.0, 2.0])
    second = indirect.run()
    assert states(second)["ingest"] == "succeeded" and second.outputs["total"] == 3.0
    md = connect_metadata(load_settings(project_dir).metadata_url)
    ex = next(e for e in second.executions if e.step_name == "ingest")
    names = {e.name for e in md.list_events(execution_id=ex.id) if e.kind is EventKind.INPUT}
    assert names == {"path", "path:file"}


@step
def size_of(path: Path) -> int:
    assert isinstance(path, Path)  # stored as a string, handed over as the Path it was
    return path.stat().st_size


@pipeline
def with_path(path: Path = Path("data/blob.bin")):
    size_of(path)


def test_path_parameters_are_fingerprinted_and_handed_over_as_paths(project_dir: Path):
    blob = project_dir / "data" / "blob.bin"
    blob.parent.mkdir()
    blob.write_bytes(b"abc")
    assert with_path.run().outputs["size_of"] == 3
    assert states(with_path.run(path=Path("data/blob.bin"))) == {"size_of": "cached"}
    blob.write_bytes(b"abcdef")
    assert with_path.run().outputs["size_of"] == 6
