"""``mloop artifacts list RUN`` and ``mloop artifacts get REF -o PATH``: a run's inputs and
outputs, and a copy of one of them checked against its recorded SHA-256 digest.

``--json`` output keys (stable): an artifact row is ``{execution_id, step, direction, name, id,
type, uri, digest, size, created_at, collected_at, path}`` (``direction`` is ``input`` or
``output``; ``path`` the local folder, null for a remote store or a collected artifact).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.artifacts.base import ArtifactStore
    from mloop.config import Settings
    from mloop.metadata.base import MetadataStore
    from mloop.metadata.entities import Artifact

app = typer.Typer(
    name="artifacts",
    help="List a run's artifacts; copy one out, checked against its digest.",
    no_args_is_help=True,
    add_completion=False,
)


def open_stores(settings: Settings) -> tuple[MetadataStore, ArtifactStore]:
    """The project's metadata and artifact stores; ``NotFoundError`` when nothing ran here."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.cli.state import require_store
    from mloop.metadata import connect

    require_store(settings)
    return connect(settings.metadata_url), connect_artifacts(settings.artifact_root)


def collected_at(artifact: Artifact) -> str | None:
    """When ``mloop gc`` deleted the artifact's content (ISO time), or None."""
    from mloop.metadata.base import COLLECTED_AT

    value = artifact.properties.get(COLLECTED_AT)
    return None if value is None else str(value)


def run_artifacts(
    store: MetadataStore, artifacts: ArtifactStore, run_id: str
) -> list[dict[str, Any]]:
    """Every input and output of the run's executions, in execution order, in the stable JSON
    shape (see the module docstring)."""
    run = store.get_run(run_id)
    rows: list[dict[str, Any]] = []
    for execution in store.list_executions(run.id):
        events = store.list_events(execution_id=execution.id)
        for event in sorted(events, key=lambda e: (e.kind.value != "input", e.name)):
            artifact = store.get_artifact(event.artifact_id)
            gone = collected_at(artifact)
            path = None if gone else artifacts.local_path(artifact.uri)
            rows.append(
                {
                    "execution_id": execution.id,
                    "step": execution.step_name,
                    "direction": event.kind.value,
                    "name": event.name,
                    "id": artifact.id,
                    "type": artifact.type,
                    "uri": artifact.uri,
                    "digest": artifact.digest,
                    "size": artifact.size,
                    "created_at": artifact.created_at,
                    "collected_at": gone,
                    "path": None if path is None else str(path),
                }
            )
    return rows


def format_bytes(size: float) -> str:
    """``812 B``, ``4.9 MB``, ``1.2 GB`` (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns at GB


@app.command("list")
def list_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix of 6+ characters).")],
    as_json: JsonOption = False,
) -> None:
    """List the artifacts a run's steps read and wrote: type, size, id and where they are."""
    settings = state_of(ctx).settings()
    store, artifacts = open_stores(settings)
    rows = run_artifacts(store, artifacts, run_id)
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    from rich.table import Table

    from mloop.cli.output import console

    if not rows:
        console().print("This run has no artifacts (none of its steps ran).")
        return
    table = Table(box=None, header_style="bold")
    for column in ("step", "", "name", "type", "size", "artifact", "where"):
        table.add_column(column, no_wrap=column not in ("where",), overflow="fold")
    for r in rows:
        where = (
            f"[magenta]collected {r['collected_at'][:16]}[/]"
            if r["collected_at"]
            else (r["path"] or r["uri"])
        )
        table.add_row(
            r["step"],
            "in" if r["direction"] == "input" else "out",
            r["name"],
            r["type"],
            format_bytes(r["size"]),
            r["id"],
            where,
        )
    console().print(table)


@app.command("get")
def get_command(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="An artifact id, or a run id followed by STEP/OUTPUT.")
    ],
    output_ref: Annotated[
        str | None,
        typer.Argument(metavar="[STEP/OUTPUT]", help="With a run id: e.g. evaluate/report."),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write it (must not exist).")
    ] = Path("."),
) -> None:
    """Copy an artifact out of the store after checking its SHA-256 digest.

    A folder artifact becomes the folder OUTPUT; an artifact of one file is written to OUTPUT
    itself when OUTPUT has that file's suffix (``-o report.html``)."""
    from mloop.cli.output import console
    from mloop.errors import ConfigError, StoreError

    settings = state_of(ctx).settings()
    store, artifacts = open_stores(settings)
    artifact = resolve_artifact(store, ref, output_ref)
    gone = collected_at(artifact)
    if gone:
        raise StoreError(
            f"artifact {artifact.id} ({artifact.type}) was deleted by mloop gc at {gone}; "
            "run its pipeline again to make it anew"
        )
    if output == Path("."):
        raise ConfigError("give a destination: -o PATH (a new folder, or a file name)")
    if output.exists():
        raise ConfigError(f"{output} exists; choose another -o PATH or remove it first")
    with artifacts.open_local(artifact.uri, digest=artifact.digest) as folder:
        written = _copy_out(folder, output)
    console().print(
        f"wrote {output} ({written} files, {format_bytes(artifact.size)}): {artifact.type} "
        f"{artifact.id}, SHA-256 {artifact.digest[:12]}… verified",
        soft_wrap=True,
    )


def resolve_artifact(store: MetadataStore, ref: str, output_ref: str | None) -> Artifact:
    """The artifact ``ref`` names: an artifact id, or (with ``STEP/OUTPUT``) the output of the
    run's last execution of STEP that succeeded or came from the cache."""
    from mloop.errors import ArtifactNotFoundError

    if output_ref is None:
        return store.get_artifact(ref)
    step, _, name = output_ref.partition("/")
    run = store.get_run(ref)
    executions = [
        e for e in store.list_executions(run.id) if e.step_name == step and e.state.done_ok
    ]
    if not executions:
        steps = sorted({e.step_name for e in store.list_executions(run.id)})
        raise ArtifactNotFoundError(
            f"{run.id} {output_ref}",
            f"run {run.id} has no finished step {step!r}; its steps: {', '.join(steps) or '—'}",
        )
    outputs = {
        e.name: e.artifact_id
        for e in store.list_events(execution_id=executions[-1].id)
        if e.kind.value == "output"
    }
    if not name and len(outputs) == 1:
        name = next(iter(outputs))
    if name not in outputs:
        raise ArtifactNotFoundError(
            f"{run.id} {output_ref}",
            f"step {step!r} has no output {name!r}; its outputs: {', '.join(sorted(outputs))}",
        )
    return store.get_artifact(outputs[name])


def _copy_out(folder: Path, output: Path) -> int:
    """Copy the artifact's files (not its marker) to ``output``; returns the number of files."""
    from mloop.artifacts.content import MARKER_NAME

    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MARKER_NAME]
    if len(files) == 1 and output.suffix and output.suffix == files[0].suffix:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[0], output)
        return 1
    shutil.copytree(folder, output, ignore=shutil.ignore_patterns(MARKER_NAME))
    return len(files)
