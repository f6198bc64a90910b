"""Every page renders (200, no traceback) on an empty store and on a seeded one; bad input is a
clear 4xx page, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

PAGES = [
    "/runs",
    "/runs?sort=metric:auc&order=asc",
    "/experiments",
    "/reports",
    "/models",
    "/deployments",
    "/monitoring",
    "/controller",
    "/login",
]


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.text[:2000]
    assert "Traceback" not in response.text
    assert "Internal error" not in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_on_an_empty_store(ui_project: Any, path: str) -> None:
    _ok(ui_project.client().get(path))


def test_empty_pages_say_there_is_nothing_yet(ui_project: Any) -> None:
    client = ui_project.client()
    assert "No runs match" in client.get("/runs").text
    assert "No registered models yet" in client.get("/models").text
    assert "no deployment records yet" in client.get("/deployments").text
    assert "No monitoring reports yet" in client.get("/monitoring").text


def test_seeded_pages_render_with_their_rows(ui_project: Any, seed: Any) -> None:
    ids = seed.runs(ui_project.store, 3, model="churn")
    seed.operations(ui_project.store, "churn", 3)
    client = ui_project.client()
    for path in PAGES:
        _ok(client.get(path))
    runs = client.get("/runs").text
    assert all(rid[:10] in runs for rid in ids) and "auc" in runs
    page = client.get(f"/runs/{ids[1]}")
    _ok(page)
    assert 'data-step="ingest"' in page.text and 'data-step="train"' in page.text
    assert "data → data" not in page.text and "output → data" in page.text  # the spec's edge
    compare = client.get(f"/compare?run={ids[0]}&run={ids[1]}")
    _ok(compare)
    assert "lr" in compare.text and 'class="diff"' in compare.text
    _ok(client.get(f"/lineage/{ids[0]}"))
    model = client.get("/models/churn")
    _ok(model)
    assert "v3" in model.text
    version_lineage = client.get("/models/churn/versions/2/lineage", follow_redirects=True)
    _ok(version_lineage)
    assert "churn v2" in version_lineage.text  # the model version is named under its package
    monitoring = client.get("/monitoring?model=churn")
    _ok(monitoring)
    assert "rule2" in monitoring.text
    assert "drift 2" in client.get("/controller").text
    state = client.get(f"/runs/{ids[1]}/state.json").json()
    assert state["steps"]["train"]["state"] == "succeeded"


def test_the_deployments_page_shows_each_environment_alias(ui_project: Any, seed: Any) -> None:
    seed.runs(ui_project.store, 2, model="churn")
    registry = ui_project.store.model_registry()
    registry.set_alias("churn", "production", 2, actor="t", reason="r")
    page = ui_project.client().get("/deployments")
    _ok(page)
    assert "@production" in page.text and "@dev" in page.text
    assert "100% → v2" in page.text


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/runs/nosuchrun00000", 404, "not found"),
        ("/runs?state=sleeping", 422, "sleeping"),
        ("/runs?page=two", 422, "not a number"),
        ("/runs?sort=colour", 422, "sort"),
        ("/compare?run=abc", 422, "two runs or more"),
        ("/models/nope", 404, "nope"),
        ("/lineage/nothing-here", 404, "no run, execution or artifact"),
        ("/controller?state=odd", 422, "odd"),
        ("/artifacts/none", 404, "none"),
        ("/no/such/page", 404, "no page"),
        ("/runs/nosuchrun00000/state.json", 404, "not found"),
        ("/logout", 405, "Method Not Allowed"),
    ],
)
def test_bad_requests_get_a_clear_page(ui_project: Any, path: str, status: int, text: str) -> None:
    response = ui_project.client().get(path)
    assert response.status_code == status, response.text[:500]
    assert text in response.text and "Traceback" not in response.text


def test_plotly_is_served_from_the_installed_package(ui_project: Any) -> None:
    from importlib.resources import files

    response = ui_project.client().get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.content == (files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    page = ui_project.client().get("/compare?run=a&run=b")  # any page: no CDN is referenced
    assert "cdn" not in page.text.lower()


def test_a_report_is_served_sandboxed(ui_project: Any) -> None:
    from mloop.components.model_artifacts import HtmlReport
    from mloop.pipelines import dsl

    @dsl.step
    def report() -> HtmlReport:
        return HtmlReport("<html><body><h1 id='x'>hello report</h1></body></html>")

    @dsl.pipeline
    def reporting() -> None:
        report()

    handle = reporting.run()
    client = ui_project.client()
    run_page = client.get(f"/runs/{handle.id}")
    _ok(run_page)
    assert 'sandbox="allow-scripts"' in run_page.text
    (artifact_id,) = [
        e for e in run_page.text.split('"') if e.startswith("/artifacts/") and e.endswith("/view")
    ]
    view = client.get(artifact_id)
    assert "hello report" in view.text
    assert view.headers["content-security-policy"] == "sandbox allow-scripts"


def test_data_reports_render_statistics_anomalies_and_drift(ui_project: Any) -> None:
    import polars as pl

    from mloop.components.schema import infer_schema
    from mloop.components.statistics import statistics
    from mloop.components.validate import validate
    from mloop.data import DriftReport, Statistics, detect_drift
    from mloop.pipelines import dsl

    @dsl.step(outputs=("reference", "current"))
    def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
        ref = pl.DataFrame({"x": [float(i % 10) for i in range(200)], "c": ["a", "b"] * 100})
        cur = ref.with_columns(pl.col("x") * 3 + 5, pl.lit(None, dtype=pl.String).alias("c"))
        return ref, cur

    @dsl.step
    def drift(reference: Statistics, current: Statistics) -> DriftReport:
        return detect_drift(reference, current)

    @dsl.pipeline
    def checks() -> None:
        ref, cur = frames()
        ref_stats, cur_stats = statistics(ref), statistics(cur)
        validate(ref_stats, infer_schema(ref_stats))
        drift(ref_stats, cur_stats)

    checks.run()
    client = ui_project.client()
    page = client.get("/reports")
    _ok(page)
    assert "DriftReport" in page.text and "Statistics" in page.text and "Anomalies" in page.text
    assert 'class="figure"' in page.text  # the drift scores plot
    ids = {
        kind: next(
            line.split("/artifacts/")[1].split('"')[0]
            for line in page.text.splitlines()
            if f"<td>{kind}</td>" in line
        )
        for kind in ("DriftReport", "Statistics", "Anomalies")
    }
    for artifact_id in ids.values():
        _ok(client.get(f"/artifacts/{artifact_id}"))
        view = client.get(f"/artifacts/{artifact_id}/view")
        _ok(view)
        assert "Plotly.newPlot" in view.text and '<script src="http' not in view.text
    assert "DRIFTED" in client.get(f"/artifacts/{ids['DriftReport']}/view").text


def test_mloop_ui_has_its_own_help(project_dir: Any) -> None:
    from typer.testing import CliRunner

    from mloop.cli.main import app

    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0, result.output
    assert "--admin-token" in result.stdout and "--port" in result.stdout
    assert " ui " in CliRunner().invoke(app, ["--help"]).stdout


def test_the_run_list_shows_the_metric_columns_asked_for(ui_project: Any, seed: Any) -> None:
    seed.runs(ui_project.store, 2)
    client = ui_project.client()
    default = client.get("/runs").text
    assert '<th class="num">auc</th>' in default and '<th class="num">loss</th>' in default
    chosen = client.get("/runs?metrics=loss").text
    assert '<th class="num">loss</th>' in chosen and '<th class="num">auc</th>' not in chosen
    assert "NaN" in chosen  # the NaN loss is shown as such, not as an empty cell


def test_an_artifact_file_cannot_leave_its_folder(ui_project: Any) -> None:
    from mloop.pipelines import dsl

    @dsl.step
    def numbers() -> dict[str, int]:
        return {"a": 1}

    @dsl.pipeline
    def small() -> None:
        numbers()

    handle = small.run()
    (execution,) = ui_project.store.list_executions(handle.id)
    (event,) = ui_project.store.list_events(execution_id=execution.id)
    artifact_id = event.artifact_id
    client = ui_project.client()
    page = client.get(f"/artifacts/{artifact_id}")
    _ok(page)
    assert f"/artifacts/{artifact_id}/files/" in page.text
    for sneaky in ("..%2F..%2F..%2Fmloop.yaml", "%2E%2E/%2E%2E/%2E%2E/mloop.yaml"):
        response = client.get(f"/artifacts/{artifact_id}/files/{sneaky}")
        assert response.status_code in (400, 404), response.status_code
        assert "project: uitest" not in response.text
    download = client.get(f"/artifacts/{artifact_id}/download")
    assert download.status_code == 200 and download.content[:2] == b"PK"
