"""``mloop pipeline build|list|show|diff``: versioned, content-addressed pipeline packages.

``build NAME`` packages the pipeline ``NAME`` of ``mloop.yaml`` (compiled graph, code digest of
its source files, its data files, locked requirements, default params, digest) into the
environment's stores;
building unchanged code again returns the same package. See docs/cicd.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mloop.cli.options import EnvOption, JsonOption
from mloop.cli.state import state_of

if TYPE_CHECKING:
    from mloop.cicd.environments import Environment

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Build and inspect pipeline packages."
)


def _env(ctx: typer.Context, env: str | None) -> Environment:
    from mloop.cicd.environments import open_environment

    state = state_of(ctx)
    return open_environment(state.project_dir, env or state.env)


def package_dict(p: Any, *, full: bool = False) -> dict[str, Any]:
    """The stable JSON of a package (``full``: with its whole manifest)."""
    out = {
        "id": p.id,
        "pipeline": p.pipeline,
        "version": p.version,
        "digest": p.digest,
        "code_digest": p.code_digest,
        "graph_version": p.graph_version,
        "uri": p.uri,
        "created_by": p.created_by,
        "created_at": p.created_at,
        "files": sorted(p.manifest.get("code") or {}),
        "data": sorted(p.manifest.get("data") or {}),
        "params": p.manifest.get("params") or {},
    }
    if full:
        out["manifest"] = p.manifest
    return out


@app.command("build")
def build_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A pipeline name from mloop.yaml.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value default param to package; repeatable."),
    ] = None,
    as_json: JsonOption = False,
    env: EnvOption = None,
) -> None:
    """Package a pipeline: mloop pipeline build training"""
    from mloop.cicd.environments import current_actor
    from mloop.cicd.packages import build_package
    from mloop.cli.output import console, print_json
    from mloop.cli.params import parse_params

    target = _env(ctx, env)
    before = {p.id for p in target.deployments.list_packages(name, limit=1000)}
    package = build_package(
        target, name, params=parse_params(param or []), created_by=current_actor()
    )
    if as_json:
        print_json({**package_dict(package), "new": package.id not in before})
        return
    word = "built" if package.id not in before else "unchanged, already built as"
    data = len(package.manifest.get("data") or {})
    console().print(
        f"{name}: {word} package [bold]v{package.version}[/] {package.short} "
        f"({len(package.manifest.get('code') or {})} files"
        + (f", {data} data files" if data else "")
        + f") in {target.name}"
    )


@app.command("list")
def list_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOption = False,
    env: EnvOption = None,
) -> None:
    """List pipeline packages, newest first."""
    from mloop.cli.output import console, format_time, print_json

    target = _env(ctx, env)
    packages = target.deployments.list_packages(name, limit=limit)
    if as_json:
        print_json([package_dict(p) for p in packages])
        return
    from rich.table import Table

    table = Table(
        "pipeline", "version", "digest", "files", "data", "built by", "built", title=target.name
    )
    for p in packages:
        table.add_row(
            p.pipeline,
            f"v{p.version}",
            p.short,
            str(len(p.manifest.get("code") or {})),
            str(len(p.manifest.get("data") or {})),
            p.created_by or "—",
            format_time(p.created_at, short=True),
        )
    console().print(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="Package id, digest (prefix) or NAME:VERSION.")],
    as_json: JsonOption = False,
    env: EnvOption = None,
) -> None:
    """Show one package: files, data files, steps, params, requirements."""
    from mloop.cli.output import console, format_time, print_json

    target = _env(ctx, env)
    p = target.deployments.get_package(package)
    if as_json:
        print_json(package_dict(p, full=True))
        return
    out = console()
    out.print(f"[bold]{p.pipeline} v{p.version}[/]  digest {p.digest}")
    out.print(f"built {format_time(p.created_at)} by {p.created_by or '—'}; code {p.code_digest}")
    out.print(f"entrypoint {p.manifest.get('entrypoint')}")
    out.print("files: " + ", ".join(sorted(p.manifest.get("code") or {})))
    data = dict(p.manifest.get("data") or {})
    out.print("data: " + (", ".join(f"{k} ({v[:12]})" for k, v in sorted(data.items())) or "—"))
    steps = (p.manifest.get("spec") or {}).get("steps") or {}
    out.print("steps: " + " -> ".join(steps))
    out.print(f"params: {p.manifest.get('params')}")
    out.print(f"requirements: {len(p.manifest.get('requirements') or [])} locked distributions")


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="The older package.")],
    b: Annotated[str, typer.Argument(help="The newer package.")],
    as_json: JsonOption = False,
    env: EnvOption = None,
) -> None:
    """What changed between two packages: code and data files, steps, params, requirements."""
    from mloop.cicd.packages import diff_packages
    from mloop.cli.output import console, print_json

    target = _env(ctx, env)
    diff = diff_packages(target.deployments.get_package(a), target.deployments.get_package(b))
    if as_json:
        print_json(diff)
        return
    out = console()
    a_, b_ = diff["a"], diff["b"]
    out.print(f"v{a_['version']} {a_['digest'][:12]} -> v{b_['version']} {b_['digest'][:12]}")
    if diff["same"]:
        out.print("identical packages")
        return
    for part in ("code", "data", "steps"):
        for change in ("added", "removed", "changed"):
            if diff[part][change]:
                out.print(f"{part} {change}: {', '.join(diff[part][change])}")
    for key, values in diff["params"].items():
        out.print(f"param {key}: {values['a']!r} -> {values['b']!r}")
    reqs = diff["requirements"]
    for change in ("added", "removed"):
        if reqs[change]:
            out.print(f"requirements {change}: {', '.join(reqs[change])}")
    for name, values in reqs["changed"].items():
        out.print(f"requirement {name}: {values['a']} -> {values['b']}")
