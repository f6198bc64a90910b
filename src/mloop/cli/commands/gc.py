"""``mloop gc``: delete the artifacts that no kept run, registered model or report needs.

A run is kept when it is among the ``--keep-last N`` newest of its pipeline (or experiment),
when it is newer than ``--older-than AGE``, while it is running, and when it produced a
registered model version. Kept are then every artifact a kept run read or wrote (a cached step
points at the run that made its outputs, so those stay too), every artifact of a registered
model version (aliases point at versions, so at these), everything under a version's URI, and
the artifacts monitoring reports refer to. Artifacts that belong to no run at all (written by
the registry or the feature store) are never touched.

Without ``--yes`` nothing is deleted: the plan (what, how many bytes) is printed. With it,
each artifact's folder is deleted and its metadata row marked ``collected_at`` (the row, its
events and its digest stay): ``mloop lineage`` shows it as ``collected``, ``mloop artifacts get``
refuses it, and the step cache, which checks that a cached output still exists, runs the step
again instead of handing it out.

``--json`` keys (stable): ``{dry_run, keep_last, older_than_s, runs_kept, runs_collected,
artifacts: [{id, type, uri, size, runs}], bytes, deleted}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.artifacts.base import ArtifactStore
    from mloop.metadata.base import MetadataStore
    from mloop.metadata.entities import Artifact, Run

app = typer.Typer(add_completion=False)

DEFAULT_KEEP_LAST = 10  # newest runs kept per pipeline
_PAGE = 1000  # runs read per query
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass
class GcPlan:
    """What garbage collection would delete, and what it keeps."""

    runs_kept: list[str] = field(default_factory=list)
    runs_collected: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    owners: dict[str, list[str]] = field(default_factory=dict)  # artifact id -> run ids

    @property
    def bytes(self) -> int:
        return sum(a.size for a in self.artifacts)


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` as a timedelta."""
    from mloop.errors import ConfigError

    match = _AGE.match(text)
    if match is None:
        raise ConfigError(f"--older-than takes an age such as 30d, 12h or 90m, not {text!r}")
    return timedelta(seconds=float(match[1]) * _UNIT_S[match[2]])


def all_runs(store: MetadataStore) -> list[Run]:
    """Every run in the store, newest first."""
    runs: list[Run] = []
    while True:
        page = store.search_runs(limit=_PAGE, offset=len(runs))
        runs.extend(page)
        if len(page) < _PAGE:
            return runs


def plan_gc(
    store: MetadataStore,
    *,
    keep_last: int,
    older_than: timedelta | None,
    now: datetime,
) -> GcPlan:
    """The artifacts to delete (see the module docstring for what is kept)."""
    from mloop._utils.clock import as_utc
    from mloop.metadata.base import COLLECTED_AT
    from mloop.metadata.entities import RunState

    runs = all_runs(store)
    protected_ids, protected_uris, model_runs = _protected(store)
    kept: set[str] = set(model_runs)
    seen_per_group: dict[str, int] = {}
    for run in runs:  # newest first
        group = run.pipeline_name or f"experiment:{run.experiment}"
        seen_per_group[group] = seen_per_group.get(group, 0) + 1
        started = as_utc(run.started_at) if run.started_at else now
        if (
            seen_per_group[group] <= keep_last
            or run.state is RunState.RUNNING
            or (older_than is not None and now - started < older_than)
        ):
            kept.add(run.id)
    owners: dict[str, list[str]] = {}
    needed: set[str] = set()
    for run in runs:
        for execution in store.list_executions(run.id):
            for event in store.list_events(execution_id=execution.id):
                if run.id in kept:
                    needed.add(event.artifact_id)
                else:
                    owners.setdefault(event.artifact_id, []).append(run.id)
    plan = GcPlan(runs_kept=[r.id for r in runs if r.id in kept])
    for artifact_id, run_ids in owners.items():
        if artifact_id in needed or artifact_id in protected_ids:
            continue
        artifact = store.get_artifact(artifact_id)
        if COLLECTED_AT in artifact.properties or _under(artifact.uri, protected_uris):
            continue
        if artifact.uri.startswith("file://") or artifact.type in ("File", "Directory"):
            continue  # a user's own file a step read: recorded for lineage, never ours to delete
        plan.artifacts.append(artifact)
        plan.owners[artifact_id] = sorted(set(run_ids))
    plan.artifacts.sort(key=lambda a: (a.created_at, a.id))
    collected = {r for ids in plan.owners.values() for r in ids}
    plan.runs_collected = [r.id for r in runs if r.id in collected]
    return plan


def _protected(store: MetadataStore) -> tuple[set[str], list[str], set[str]]:
    """Artifact ids and URIs of registered model versions and monitoring reports, and the runs
    that produced a registered version."""
    ids: set[str] = set()
    uris: list[str] = []
    runs: set[str] = set()
    registry = store.model_registry()
    for model in registry.search_models():
        for version in registry.list_versions(model.name):
            ids.update(x for x in (version.artifact_id, version.data_artifact_id) if x)
            if version.uri:
                uris.append(version.uri.strip("/"))
            if version.run_id:
                runs.add(version.run_id)
    for report in store.monitoring().list_reports(None, limit=1_000_000):
        if report.artifact_id:
            ids.add(report.artifact_id)
    return ids, uris, runs


def _under(uri: str, protected: list[str]) -> bool:
    """True when ``uri`` is a protected URI, inside one, or holds one."""
    uri = uri.strip("/")
    return any(uri == p or uri.startswith(p + "/") or p.startswith(uri + "/") for p in protected)


def collect(plan: GcPlan, store: MetadataStore, artifacts: ArtifactStore, *, now: datetime) -> int:
    """Delete the plan's artifacts and mark their rows collected; returns how many were
    deleted (an artifact already gone from the store is only marked)."""
    deleted = 0
    done: list[str] = []
    for artifact in plan.artifacts:
        if artifacts.exists(artifact.uri):
            artifacts.delete(artifact.uri)
            deleted += 1
        done.append(artifact.id)
        if len(done) >= 200:  # mark as we go: an interrupted gc leaves an honest record
            store.mark_artifacts_collected(done, at=now)
            done = []
    store.mark_artifacts_collected(done, at=now)
    return deleted


@app.command("gc")
def gc_command(
    ctx: typer.Context,
    keep_last: Annotated[
        int,
        typer.Option("--keep-last", min=0, help="Newest runs kept whole per pipeline."),
    ] = DEFAULT_KEEP_LAST,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", help="Only collect runs older than this (30d, 12h, 90m); optional."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Delete (the default only shows what would go).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete artifacts no kept run, registered model version or alias needs (dry run unless
    --yes)."""
    from mloop._utils.clock import utc_now
    from mloop.artifacts import connect as connect_artifacts
    from mloop.cli.state import open_store, require_store

    settings = state_of(ctx).settings()
    require_store(settings)
    age = parse_age(older_than) if older_than is not None else None
    now = utc_now()
    with open_store(settings.metadata_url) as store:
        plan = plan_gc(store, keep_last=keep_last, older_than=age, now=now)
        deleted = 0
        if yes and plan.artifacts:
            deleted = collect(plan, store, connect_artifacts(settings.artifact_root), now=now)
    if as_json:
        from mloop.cli.output import print_json

        print_json(_as_dict(plan, dry_run=not yes, keep_last=keep_last, age=age, deleted=deleted))
        return
    _print_plan(plan, dry_run=not yes, deleted=deleted)


def _as_dict(
    plan: GcPlan, *, dry_run: bool, keep_last: int, age: timedelta | None, deleted: int
) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "keep_last": keep_last,
        "older_than_s": None if age is None else age.total_seconds(),
        "runs_kept": plan.runs_kept,
        "runs_collected": plan.runs_collected,
        "artifacts": [
            {"id": a.id, "type": a.type, "uri": a.uri, "size": a.size, "runs": plan.owners[a.id]}
            for a in plan.artifacts
        ],
        "bytes": plan.bytes,
        "deleted": deleted,
    }


def _print_plan(plan: GcPlan, *, dry_run: bool, deleted: int) -> None:
    from collections import Counter

    from rich.table import Table

    from mloop.cli.commands.artifacts import format_bytes
    from mloop.cli.output import console

    out = console()
    if not plan.artifacts:
        out.print(f"Nothing to collect ({len(plan.runs_kept)} runs kept).")
        return
    by_type: Counter[str] = Counter()
    size_by_type: Counter[str] = Counter()
    for a in plan.artifacts:
        by_type[a.type] += 1
        size_by_type[a.type] += a.size
    table = Table(box=None, header_style="bold")
    for column in ("type", "artifacts", "size"):
        table.add_column(column, no_wrap=True, justify="left" if column == "type" else "right")
    for kind, count in by_type.most_common():
        table.add_row(kind, str(count), format_bytes(size_by_type[kind]))
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {len(plan.artifacts)} artifacts ({format_bytes(plan.bytes)}) of "
        f"{len(plan.runs_collected)} runs; {len(plan.runs_kept)} runs kept"
    )
    out.print(table)
    if dry_run:
        out.print("Run again with [bold]--yes[/] to delete them.")
    elif deleted < len(plan.artifacts):
        out.print(f"({len(plan.artifacts) - deleted} were already gone from the store)")
