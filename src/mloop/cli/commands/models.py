"""``mloop models list|show|alias|rollback|compare``: the model registry from the shell.

``--json`` output keys (stable): a model is ``{name, description, tags, aliases, latest_version,
created_at, updated_at}``; ``show`` adds ``versions`` (each ``{version, uri, digest, flavor,
run_id, artifact_id, data_artifact_id, metrics, tags, aliases, created_by, created_at}``) and
``alias_history`` (each ``{alias, from_version, to_version, kind, actor, reason, at}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.registry import ModelRegistry

app = typer.Typer(
    name="models",
    help="List registered models; show, alias, roll back and compare versions.",
    no_args_is_help=True,
    add_completion=False,
)


def _registry(ctx: typer.Context) -> ModelRegistry:
    """The registry on the project's stores; ``NotFoundError`` (exit 2) when the project has no
    metadata store yet, which is never created here (a model cannot exist without one)."""
    from mloop.cli.state import require_store
    from mloop.registry import default_registry

    settings = state_of(ctx).settings()
    require_store(settings)
    return default_registry(settings)


def model_to_dict(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": model.tags,
        "aliases": model.aliases,
        "latest_version": model.latest_version,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


def version_to_dict(v: Any) -> dict[str, Any]:
    return {
        "version": v.version,
        "uri": v.uri,
        "digest": v.digest,
        "flavor": v.flavor,
        "run_id": v.run_id,
        "artifact_id": v.artifact_id,
        "data_artifact_id": v.data_artifact_id,
        "metrics": v.metrics,
        "tags": v.tags,
        "aliases": list(v.aliases),
        "description": v.description,
        "created_by": v.created_by,
        "created_at": v.created_at,
    }


def change_to_dict(c: Any) -> dict[str, Any]:
    return {
        "alias": c.alias,
        "from_version": c.from_version,
        "to_version": c.to_version,
        "kind": c.kind,
        "actor": c.actor,
        "reason": c.reason,
        "at": c.at,
    }


@app.command("list")
def list_models(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Only models whose name contains this.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List registered models with their aliases and latest version."""
    from mloop.cli.output import console, err_console, format_time, print_json
    from mloop.cli.state import missing_store_message, store_exists

    settings = state_of(ctx).settings()
    exists = store_exists(settings.metadata_url)
    rows = [model_to_dict(m) for m in _registry(ctx).search_models(name)] if exists else []
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No registered models yet: [bold]mloop quickstart[/] registers one.")
        if not exists:
            err_console().print(f"[dim]{missing_store_message(settings)}[/]", soft_wrap=True)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("model", "latest", "aliases", "updated"):
        table.add_column(column, no_wrap=True)
    for r in rows:
        aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(r["aliases"].items()))
        table.add_row(
            r["name"], f"v{r['latest_version']}", aliases or "—", format_time(r["updated_at"])
        )
    console().print(table)


@app.command("show")
def show_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    as_json: JsonOption = False,
) -> None:
    """Show a model's versions (metrics, run, digest) and the history of its aliases."""
    from mloop.cli.output import console, format_time, print_json

    registry = _registry(ctx)
    data = model_to_dict(registry.get_model(name))
    data["versions"] = [version_to_dict(v) for v in registry.list_versions(name)]
    data["alias_history"] = [change_to_dict(c) for c in registry.alias_history(name)]
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    out = console()
    out.print(f"[bold]{name}[/]  {data['description'] or ''}")
    versions = Table(title="versions", title_justify="left", box=None, header_style="bold")
    for column in ("version", "aliases", "flavor", "roc_auc", "run", "digest", "created"):
        versions.add_column(column, no_wrap=True, min_width=len(column))
    for v in data["versions"]:
        auc = v["metrics"].get("roc_auc")
        versions.add_row(
            f"v{v['version']}",
            ", ".join(v["aliases"]) or "—",
            v["flavor"] or "—",
            "—" if auc is None else f"{auc:.4f}",
            v["run_id"] or "—",
            v["digest"][:12],
            format_time(v["created_at"], short=True),
        )
    out.print(versions)
    out.print("[bold]alias history[/]")
    for c in data["alias_history"]:
        move = f"{_v(c['from_version'])} -> {_v(c['to_version'])}"
        if c["kind"] != "set":
            move += f" ({c['kind']})"
        out.print(
            f"  {format_time(c['at'], short=True)}  {c['alias']}  {move}  by {c['actor']}: "
            f"{c['reason']}",
            soft_wrap=True,
            highlight=False,
        )


def _v(version: int | None) -> str:
    return "—" if version is None else f"v{version}"


@app.command("alias")
def set_alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to move, e.g. production.")],
    version: Annotated[int, typer.Argument(help="Version the alias should point at.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the history).")],
    as_json: JsonOption = False,
) -> None:
    """Point ALIAS of NAME at VERSION, with a reason kept in the alias history."""
    from mloop.cli.output import console, print_json

    change = _registry(ctx).set_alias(name, alias, version, reason=reason)
    if as_json:
        print_json(change_to_dict(change))
        return
    console().print(
        f"{name}@{alias}: {_v(change.from_version)} -> [bold]{_v(change.to_version)}[/]"
    )


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to move back.")] = "production",
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (kept in the history).")
    ] = "rolled back from the CLI",
    as_json: JsonOption = False,
) -> None:
    """Move ALIAS of NAME back to the version it pointed at before the current one."""
    from mloop.cli.output import console, print_json

    change = _registry(ctx).rollback(name, alias, reason=reason)
    if as_json:
        print_json(change_to_dict(change))
        return
    console().print(
        f"{name}@{alias} rolled back: {_v(change.from_version)} -> [bold]{_v(change.to_version)}[/]"
    )


@app.command("compare")
def compare(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    first: Annotated[str, typer.Argument(help="A version number or an alias.")],
    second: Annotated[str, typer.Argument(help="A version number or an alias.")],
    as_json: JsonOption = False,
) -> None:
    """Compare the recorded metrics of two versions (numbers or aliases) side by side."""
    from mloop.cli.output import console, print_json
    from mloop.evaluation.metrics import HIGHER_IS_BETTER

    registry = _registry(ctx)
    a, b = (registry.resolve(_uri(name, x)) for x in (first, second))
    rows: list[dict[str, Any]] = []
    for key in sorted(set(a.metrics) | set(b.metrics)):
        x, y = a.metrics.get(key), b.metrics.get(key)
        delta = None if x is None or y is None else y - x
        better = None
        if delta is not None and delta != 0:
            better = (delta > 0) == HIGHER_IS_BETTER.get(key, True)
        rows.append({"metric": key, "a": x, "b": y, "delta": delta, "b_is_better": better})
    data = {"name": name, "a": a.version, "b": b.version, "metrics": rows}
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("metric", f"v{a.version}", f"v{b.version}", "change"):
        table.add_column(column, no_wrap=True, justify="right" if column != "metric" else "left")
    for r in rows:
        mark = {True: "[green]better[/]", False: "[red]worse[/]", None: ""}[r["b_is_better"]]
        table.add_row(
            r["metric"],
            "—" if r["a"] is None else f"{r['a']:.4f}",
            "—" if r["b"] is None else f"{r['b']:.4f}",
            "—" if r["delta"] is None else f"{r['delta']:+.4f} {mark}",
        )
    console().print(table)


def _uri(name: str, ref: str) -> str:
    return f"models:/{name}/{ref}" if ref.isdigit() or ref == "latest" else f"models:/{name}@{ref}"
