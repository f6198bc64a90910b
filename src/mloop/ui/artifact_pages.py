"""Artifact pages: details, files, download (one file or a zip), HTML reports shown inline,
data reports (statistics, anomalies, drift) with plots, and lineage graphs.

Reports are served from ``/artifacts/{id}/view`` with a ``sandbox`` Content-Security-Policy and
shown in an ``<iframe sandbox="allow-scripts">``: a report's scripts run (its Plotly charts)
but in an opaque origin, so they cannot read the UI's cookies or call its actions.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mloop.errors import ArtifactNotFoundError, UnsafePathError, ValidationError
from mloop.metadata.entities import Artifact
from mloop.metadata.lineage import lineage
from mloop.ui import artifact_queries, plots, registry_queries
from mloop.ui.context import UiContext
from mloop.ui.lineage_graph import artifact_ids, layout

VIEWABLE = ("Report", "Statistics", "DriftReport", "Anomalies", "Evaluation")
"""Artifact types with an HTML view."""
_SANDBOX = {"Content-Security-Policy": "sandbox allow-scripts", "X-Content-Type-Options": "nosniff"}
MAX_FILES = 200  # files listed on an artifact's page


def _files(folder: Path) -> list[tuple[str, int]]:
    found = sorted(p for p in folder.rglob("*") if p.is_file())
    return [(str(p.relative_to(folder)), p.stat().st_size) for p in found[:MAX_FILES]]


def artifact_page(ctx: UiContext, request: Request) -> Response:
    with ctx.read() as conn:
        info = artifact_queries.artifact_info(conn, request.path_params["artifact_id"])
        versions = registry_queries.versions_of_artifacts(conn, [info.artifact.id])
    try:
        with ctx.artifacts.open_local(info.artifact.uri) as folder:
            files = _files(folder)
        missing = False
    except ArtifactNotFoundError:
        files, missing = [], True
    return ctx.render(
        request,
        "artifact.html",
        active="reports",
        info=info,
        a=info.artifact,
        files=files,
        missing=missing,
        viewable=info.artifact.type in VIEWABLE,
        versions=versions.get(info.artifact.id, []),
        properties=json.dumps(info.artifact.properties, indent=1, default=str),
    )


def artifact_file(ctx: UiContext, request: Request) -> Response:
    artifact = ctx.store.get_artifact(request.path_params["artifact_id"])
    name = request.path_params["path"]
    with ctx.artifacts.open_local(artifact.uri) as folder:
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise UnsafePathError(name, f"artifact {artifact.id}")
        if not target.is_file():
            raise ArtifactNotFoundError(f"{artifact.id}/{name}", "no such file in the artifact")
        body = target.read_bytes()
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{Path(name).name}"'},
    )


def artifact_download(ctx: UiContext, request: Request) -> Response:
    """The artifact's folder as a zip (built in memory: artifacts shown here are small)."""
    artifact = ctx.store.get_artifact(request.path_params["artifact_id"])
    buffer = io.BytesIO()
    with ctx.artifacts.open_local(artifact.uri, digest=artifact.digest) as folder:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.write(path, str(path.relative_to(folder)))
    name = f"{artifact.type.lower()}-{artifact.id[:10]}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


RECORD_FILES = {
    "Statistics": "statistics.json",
    "Anomalies": "anomalies.json",
    "DriftReport": "drift.json",
    "Evaluation": "evaluation.json",
    "Blessing": "blessing.json",
}
"""The JSON file each record artifact keeps its value in (``mloop.components`` materializers)."""


def _read_json(ctx: UiContext, artifact: Artifact) -> dict[str, Any]:
    with ctx.artifacts.open_local(artifact.uri) as folder:
        named = folder / RECORD_FILES.get(artifact.type, "")
        found = [named] if named.is_file() else sorted(folder.glob("[!.]*.json"))
        if not found:
            raise ArtifactNotFoundError(artifact.id, "its folder holds no JSON record")
        return dict(json.loads(found[0].read_text(encoding="utf-8")))


def _load(ctx: UiContext, artifact: Artifact) -> Any:
    from mloop.data import Anomalies, DriftReport, Statistics

    cls: dict[str, type[Statistics] | type[Anomalies] | type[DriftReport]] = {
        "Statistics": Statistics,
        "Anomalies": Anomalies,
        "DriftReport": DriftReport,
    }
    return cls[artifact.type].from_dict(_read_json(ctx, artifact))


def artifact_view(ctx: UiContext, request: Request) -> Response:
    """The artifact as a self-contained HTML page (for the sandboxed iframe)."""
    with ctx.read() as conn:
        info = artifact_queries.artifact_info(conn, request.path_params["artifact_id"])
    artifact = info.artifact
    if artifact.type == "Report":
        name = str(artifact.properties.get("file") or "report.html")
        with ctx.artifacts.open_local(artifact.uri) as folder:
            page = (folder / Path(name).name).read_text(encoding="utf-8", errors="replace")
        return HTMLResponse(page, headers=_SANDBOX)
    if artifact.type in ("Statistics", "DriftReport", "Anomalies"):
        return HTMLResponse(_data_report(ctx, info), headers=_SANDBOX)
    if artifact.type == "Evaluation":
        from mloop.evaluation.evaluation import Evaluation
        from mloop.evaluation.report import render_html

        evaluation = Evaluation.from_dict(_read_json(ctx, artifact))
        return HTMLResponse(render_html(evaluation, title="Evaluation"), headers=_SANDBOX)
    raise ValidationError(f"an artifact of type {artifact.type} has no HTML view; download it")


def _data_report(ctx: UiContext, info: artifact_queries.ArtifactInfo) -> str:
    """``mloop.data.report.render_html`` over the artifact and the statistics it was made from
    (a drift report's reference and current statistics, anomalies' statistics)."""
    from mloop.data.report import render_html

    artifact = info.artifact
    value = _load(ctx, artifact)
    stats = {n: a for n, a in info.inputs.items() if a.type == "Statistics"}
    if artifact.type == "Statistics":
        return render_html(value, title=f"Statistics {artifact.id[:10]}")
    if artifact.type == "Anomalies":
        if not stats:
            raise ArtifactNotFoundError(artifact.id, "the statistics it was made from are gone")
        current = _load(ctx, next(iter(stats.values())))
        return render_html(current, anomalies=value, title="Anomalies")
    reference_name = next((n for n in stats if "ref" in n), None)
    current_name = next((n for n in stats if n != reference_name), None)
    if reference_name is None or current_name is None:
        raise ArtifactNotFoundError(
            artifact.id, "the reference and current statistics it compared are not recorded"
        )
    return render_html(
        _load(ctx, stats[current_name]),
        _load(ctx, stats[reference_name]),
        drift=value,
        title="Drift report",
    )


def reports(ctx: UiContext, request: Request) -> Response:
    q = request.query_params
    wanted = [t for t in q.getlist("type") if t]
    try:
        page_no = max(1, int(q.get("page") or 1))
    except ValueError:
        raise ValidationError(f"page {q.get('page')!r} is not a number") from None
    with ctx.read() as conn:
        page = artifact_queries.report_page(conn, wanted, page_no)
    drift = None
    first = next((i.artifact for i in page.items if i.artifact.type == "DriftReport"), None)
    if first is not None and request.query_params.get("plot") != "0":
        try:
            drift = {"artifact": first, "figure": plots.drift_scores(_load(ctx, first).features)}
        except ArtifactNotFoundError:
            drift = None
    return ctx.render(
        request,
        "reports.html",
        active="reports",
        page=page,
        types=artifact_queries.REPORT_TYPES,
        wanted=wanted,
        drift=drift,
    )


def lineage_page(ctx: UiContext, request: Request) -> Response:
    ref = request.path_params["ref"]
    direction = request.query_params.get("direction") or "both"
    try:
        depth = min(20, max(1, int(request.query_params.get("depth") or 10)))
    except ValueError:
        raise ValidationError("depth must be a number of edges (1-20)") from None
    tree = lineage(ctx.store, ref, direction=direction, max_depth=depth)  # type: ignore[arg-type]
    with ctx.read() as conn:
        versions = registry_queries.versions_of_artifacts(conn, artifact_ids(tree))
        aliases = registry_queries.all_aliases(conn)
    notes: dict[str, list[str]] = {}
    for aid, found in versions.items():
        for name, version in found:
            tagged = [a for a, v in aliases.get(name, {}).items() if v == version]
            at = " @" + " @".join(tagged) if tagged else ""
            notes.setdefault(aid, []).append(f"{name} v{version}{at}")
    graph = layout(tree, notes)
    return ctx.render(
        request,
        "lineage.html",
        active="runs",
        ref=ref,
        root=tree,
        graph=graph,
        direction=direction,
        depth=depth,
    )


def version_lineage(ctx: UiContext, request: Request) -> Response:
    """A model version's lineage: its package artifact's, upstream to the data and features."""
    name, version = request.path_params["name"], int(request.path_params["version"])
    found = ctx.store.model_registry().get_version(name, version)
    ref = found.artifact_id or found.run_id
    if not ref:
        raise ArtifactNotFoundError(f"{name}/{version}", "the version records no artifact or run")
    return RedirectResponse(f"/lineage/{ref}?direction=both", status_code=303)
