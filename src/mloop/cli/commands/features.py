"""``mloop features apply|list|describe|materialize|audit|serve``: the feature store from the shell.

``apply`` imports the definition files (default ``features.py``, else every ``*.py`` in
``features/``), collects the Entity / FeatureView / OnDemandFeatureView / FeatureService objects
they define and stores them, versioned. ``--json`` output keys (stable): a definition is ``{kind,
name, version, created_at, forced, change, spec}``; an apply change is ``{kind, name, action,
version, changes, incompatible}``; a materialization is ``{view, rows, start, end,
outside_ttl}``; an audit is ``AuditReport.to_dict()`` (``{ok, mismatches, views}``).

``materialize`` prints a warning (stderr) when rows it wrote are already older than their
view's ttl. ``audit`` exits 0 when online and offline agree, 1 when a value differs, 2 on an
error.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of
from mloop.errors import StaleFeaturesWarning

app = typer.Typer(
    name="features",
    help="Apply, list, describe and materialize feature definitions.",
    no_args_is_help=True,
    add_completion=False,
)

_KINDS = {
    "entity": "entity",
    "entities": "entity",
    "view": "feature_view",
    "views": "feature_view",
    "feature_view": "feature_view",
    "on_demand": "on_demand_feature_view",
    "on_demand_feature_view": "on_demand_feature_view",
    "service": "feature_service",
    "services": "feature_service",
    "feature_service": "feature_service",
}


def _store(ctx: typer.Context, online_store: str | None = None) -> Any:
    """The feature store of the command's project and environment (``--env``)."""
    from mloop.features.store import FeatureStore

    settings = state_of(ctx).settings()
    return FeatureStore(
        settings.project_dir,
        online_store=online_store,
        metadata_url=settings.metadata_url,
        env=settings.environment,
    )


def definition_files(project_dir: Path, paths: list[Path] | None) -> list[Path]:
    """The files ``apply`` imports (see the module docstring)."""
    from mloop.errors import ConfigError

    if paths:
        files: list[Path] = []
        for p in paths:
            p = p if p.is_absolute() else project_dir / p
            files += sorted(p.glob("*.py")) if p.is_dir() else [p]
    elif (project_dir / "features.py").exists():
        files = [project_dir / "features.py"]
    else:
        files = sorted((project_dir / "features").glob("*.py"))
    missing = [str(f) for f in files if not f.exists()]
    if missing or not files:
        raise ConfigError(
            f"no feature definition files found ({', '.join(missing) or 'features.py'}); pass "
            "the files: mloop features apply path/to/features.py"
        )
    return files


def collect_definitions(files: list[Path]) -> list[Any]:
    """Every definition object the files define at module level (imported as their stem)."""
    from mloop.errors import FeatureDefinitionError
    from mloop.features.definitions import KINDS

    found: list[Any] = []
    for path in files:
        folder = str(path.parent.resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise FeatureDefinitionError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise FeatureDefinitionError(f"importing {path} failed: {exc}") from exc
        for value in vars(module).values():
            if type(value) in KINDS and all(value is not f for f in found):
                found.append(value)
    return found


@app.command("apply")
def apply_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Definition files or folders (default features.py).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow (and record) an incompatible change.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Store the definitions in the metadata store, versioned."""
    from dataclasses import asdict

    store = _store(ctx)
    objects = collect_definitions(definition_files(store.repo_path, paths))
    changes = store.plan(objects) if dry_run else store.apply(objects, force=force)
    rows = [asdict(c) for c in changes]
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    from mloop.cli.output import console

    out = console()
    colour = {"create": "green", "update": "yellow", "unchanged": "dim"}
    for row in rows:
        what = "; ".join(row["changes"])
        out.print(
            f"[{colour[row['action']]}]{row['action']:<9}[/] {row['kind']:<24} {row['name']} "
            f"v{row['version']}" + (f"  ({what})" if what else "")
        )
    if dry_run:
        out.print("[dim]dry run: nothing stored[/]")


def definition_to_dict(d: Any) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "name": d.name,
        "version": d.version,
        "created_at": d.created_at,
        "forced": d.forced,
        "change": d.change,
        "spec": d.spec,
    }


@app.command("list")
def list_command(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: entities, views, on_demand, services.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the newest version of every definition."""
    from mloop.errors import ConfigError

    if kind is not None and kind not in _KINDS:
        raise ConfigError(f"--kind {kind!r} is not one of entities, views, on_demand, services")
    from mloop.cli.state import store_exists

    settings = state_of(ctx).settings()
    exists = store_exists(settings.metadata_url)  # a listing reads: it never creates a store
    defs = _store(ctx).registry.latest_versions(_KINDS[kind] if kind else None) if exists else []
    rows = [definition_to_dict(d) for d in defs]
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    from rich.table import Table

    from mloop.cli.output import console, format_time

    if not rows:
        console().print("No feature definitions yet: run [bold]mloop features apply[/].")
        return
    table = Table(box=None, header_style="bold")
    for column in ("kind", "name", "version", "applied", "features / keys"):
        table.add_column(column, no_wrap=column != "features / keys")
    for row in rows:
        spec = row["spec"]
        detail = spec.get("join_keys") or [f["name"] for f in spec.get("schema", [])]
        detail = detail or spec.get("features", [])
        table.add_row(
            row["kind"],
            row["name"],
            f"v{row['version']}",
            format_time(row["created_at"], short=True),
            ", ".join(map(str, detail)),
        )
    console().print(table)


@app.command("describe")
def describe_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of an entity, view or service.")],
    as_json: JsonOption = False,
) -> None:
    """Show a definition's spec and its version history."""
    from mloop.cli.state import require_store
    from mloop.errors import FeatureNotFoundError

    require_store(state_of(ctx).settings())  # reads only: no store is created
    store = _store(ctx)
    latest = [d for d in store.registry.latest_versions() if d.name == name]
    if not latest:
        raise FeatureNotFoundError(name, [d.name for d in store.registry.latest_versions()])
    data = []
    for d in latest:
        item = definition_to_dict(d)
        item["history"] = [
            {k: v for k, v in definition_to_dict(h).items() if k != "spec"}
            for h in store.registry.history(d.kind, d.name)
        ]
        data.append(item)
    if as_json:
        from mloop.cli.output import print_json

        print_json(data)
        return
    import json

    from mloop.cli.output import console, format_time

    out = console()
    for item in data:
        out.print(f"[bold]{item['kind']} {item['name']}[/] v{item['version']}")
        out.print(json.dumps(item["spec"], indent=2), soft_wrap=True, markup=False)
        for h in item["history"]:
            flag = " [red](forced)[/]" if h["forced"] else ""
            out.print(
                f"  v{h['version']}  {format_time(h['created_at'])}{flag}  {h['change'] or ''}"
            )


def _parse_time(value: str, option: str) -> datetime:
    from mloop.errors import ValidationError

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"{option} {value!r} is not an ISO-8601 time (e.g. 2024-01-31T00:00:00)"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@app.command("materialize")
def materialize_command(
    ctx: typer.Context,
    end: Annotated[str, typer.Argument(help="Window end, ISO-8601 (UTC if no offset), or 'now'.")],
    start: Annotated[
        str | None,
        typer.Option(help="Window start; without it, each view continues from its watermark."),
    ] = None,
    views: Annotated[
        list[str] | None, typer.Option("--view", help="Only this view (repeatable).")
    ] = None,
    online_store: Annotated[
        str | None, typer.Option(help="sqlite, or a redis:// URL (default: the project's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load the newest offline rows into the online store (incremental by default)."""
    store = _store(ctx, online_store)
    end_time = datetime.now(timezone.utc) if end == "now" else _parse_time(end, "END")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StaleFeaturesWarning)
        try:
            if start is None:
                results = store.materialize_incremental(end_time, views)
            else:
                results = store.materialize(_parse_time(start, "--start"), end_time, views)
        finally:
            store.close()
    stale = [w.message for w in caught if isinstance(w.message, StaleFeaturesWarning)]
    for w in caught:  # anything else goes on as it came
        if not isinstance(w.message, StaleFeaturesWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    rows = [
        {
            "view": r.view,
            "rows": r.rows,
            "start": r.start,
            "end": r.end,
            "outside_ttl": r.outside_ttl,
        }
        for r in results
    ]
    from mloop.cli.output import console, err_console

    for message in stale:  # on stderr, so that --json output stays parseable
        err_console().print(f"[yellow]warning:[/] {message}", soft_wrap=True)
    if as_json:
        from mloop.cli.output import print_json

        print_json(rows)
        return
    for row in rows:
        console().print(
            f"[green]materialized[/] {row['view']}: {row['rows']} entities, "
            f"{row['start'].isoformat()} .. {row['end'].isoformat()}"
        )
    if not rows:
        console().print("No online feature views to materialize: run mloop features apply.")


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="Entities sampled per view.")
    ] = 100,
    views: Annotated[
        list[str] | None, typer.Option("--view", help="Only this view (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed (same seed, same entities).")] = 0,
    online_store: Annotated[
        str | None, typer.Option(help="sqlite, or a redis:// URL (default: the project's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare online values with a point-in-time offline read; exit 1 on any mismatch."""
    store = _store(ctx, online_store)
    try:
        report = store.audit(sample=sample, feature_views=views, seed=seed)
    finally:
        store.close()
    if as_json:
        from mloop.cli.output import print_json

        print_json(report.to_dict())
    else:
        _print_audit(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_audit(report: Any) -> None:
    from rich.table import Table

    from mloop.cli.output import console

    out = console()
    if not report.views:
        out.print("No online feature views to audit: run mloop features apply.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("view", "feature", "checked", "mismatches"):
        table.add_column(column, justify="right" if column in ("checked", "mismatches") else "left")
    for view in report.views:
        for f in view.features:
            colour = "red" if f.mismatches else "green"
            table.add_row(view.view, f.feature, str(f.checked), f"[{colour}]{f.mismatches}[/]")
    out.print(table)
    from rich.markup import escape

    shown = [m for v in report.views for m in v.mismatches][:20]
    for m in shown:
        detail = (
            f"{m.view}:{m.feature} {m.entity}: online {m.online!r}, offline {m.offline!r} "
            f"(as of {m.as_of.isoformat()})"
        )
        out.print(f"  [red]mismatch[/] {escape(detail)}", soft_wrap=True)
    if report.ok:
        out.print("[green]online and offline agree[/] for every sampled entity")
    else:
        out.print(f"[red]{report.mismatch_count} mismatching value(s)[/]")


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 6566,
    online_store: Annotated[
        str | None, typer.Option(help="sqlite, or a redis:// URL (default: the project's).")
    ] = None,
) -> None:
    """Serve online features over HTTP (POST /get-online-features, Feast's format)."""
    import uvicorn

    from mloop.features.server import create_app

    store = _store(ctx, online_store)
    uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
