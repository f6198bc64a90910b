"""The UI end to end in headless Chromium (Playwright), on the quickstart's store.

The store is built once per module as a user builds it: ``mloop quickstart`` (v1 promoted),
``mloop quickstart -p C=0.03`` (v2 promoted), a data-checks pipeline (statistics, validation,
drift of a shifted copy of the loans), plus monitoring reports, an alert and trigger events.
``mloop ui`` then runs in a subprocess on a free 127.0.0.1 port. Screenshots of every page go
to ``$MLOOP_TEST_ARTIFACTS/ui`` (else the test's tmp folder).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TOKEN = "e2e-admin-token"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATA_CHECKS = '''"""Loans and a shifted copy: statistics, schema, validation, drift."""
from mloop import pipeline, step
from mloop.components.schema import infer_schema
from mloop.components.statistics import statistics
from mloop.components.validate import validate
from mloop.data import DriftReport, Statistics, detect_drift


@step
def drift(reference: Statistics, current: Statistics) -> DriftReport:
    print(f"comparing {reference.num_rows} reference rows with {current.num_rows} current rows")
    return detect_drift(reference, current)


@pipeline
def data_checks(reference: str = "data/lending_club.parquet",
                current: str = "data/shifted.parquet"):
    ref = statistics(reference)
    cur = statistics(current)
    validate(ref, infer_schema(ref, label="Class"))
    drift(ref, cur)
'''


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["COLUMNS"] = "120"
    return env


def mloop(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def seed_operations(project: Path) -> None:
    """Monitoring reports over six windows (drift rising), an open alert, trigger events."""
    from mloop._utils.clock import utc_now
    from mloop._utils.ids import new_id
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.metadata.connect import disconnect_all
    from mloop.metadata.controller_state import EventState
    from mloop.metadata.monitoring_records import MonitoringRecord

    store = connect(load_settings(project).metadata_url)
    end = utc_now()
    for i in range(6):
        start = end - timedelta(hours=6 - i)
        store.monitoring().add_report(
            MonitoringRecord(
                id=new_id(),
                model="lending_club",
                version="2",
                window_start=start,
                window_end=start + timedelta(hours=1),
                created_at=start + timedelta(hours=1),
                num_rows=500 + 10 * i,
                dataset_drifted=i >= 4,
                share_drifted=0.05 * i * i / 2,
                prediction_drift=0.02 * i,
                summary={"metrics": {"roc_auc": 0.75 - 0.01 * i}},
            )
        )
    store.monitoring().raise_alert(
        "lending_club",
        "share_of_drifted_features",
        severity="warning",
        message="40% of the input features drifted (threshold 30%)",
        value=0.4,
        threshold=0.3,
    )
    events = store.controller_state()
    fired = events.record_event("training", "drift", "share of drifted features 0.40 >= 0.30")
    events.finish_event(fired.id, EventState.SKIPPED)
    events.record_event("training", "schedule", "0 3 * * *")
    disconnect_all()


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import polars as pl

    root = tmp_path_factory.mktemp("ui-e2e")
    mloop("quickstart", cwd=root)
    project = root / "mloop-quickstart"
    mloop("quickstart", "-p", "C=0.03", cwd=root)
    loans = pl.read_parquet(project / "data" / "lending_club.parquet")
    shifted = [(pl.col(c) * 1.6 + 1).alias(c) for c, t in loans.schema.items() if t.is_float()]
    loans.with_columns(shifted).write_parquet(project / "data" / "shifted.parquet")
    (project / "pipelines" / "data_checks.py").write_text(DATA_CHECKS, encoding="utf-8")
    mloop("run", "pipelines/data_checks.py:data_checks", cwd=project)
    seed_operations(project)
    return project


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ui_url(demo_project: Path) -> Iterator[str]:
    port = _free_port()
    log_path = demo_project / ".mloop" / "ui.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mloop", "ui", "--port", str(port), "--admin-token", TOKEN],
        cwd=demo_project,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()  # the server holds its own descriptor
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(f"{url}/runs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mloop ui did not answer within 30 s"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("MLOOP_TEST_ARTIFACTS")
    folder = (Path(base) if base else tmp_path_factory.mktemp("artifacts")) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        tab.close()
    assert not errors, f"JavaScript errors: {errors}"


def shoot(page: Any, path: Path) -> None:
    """The page's content (the body, not the empty viewport below it)."""
    page.locator("body").screenshot(path=str(path))


def visit(page: Any, url: str, shots: Path | None = None, name: str | None = None) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    body = page.inner_text("body")
    assert "Traceback" not in body and "Internal error" not in body
    if shots is not None and name is not None:
        shoot(page, shots / f"{name}.png")


def test_every_page_in_the_navigation_renders(page: Any, ui_url: str, shots: Path) -> None:
    visit(page, f"{ui_url}/runs?metrics=roc_auc,pr_auc,log_loss,blessed", shots, "ui-runs")
    columns = page.text_content("#runs-table tr") or ""  # the header row, as written
    assert "roc_auc" in columns and "ece" not in columns
    links = page.eval_on_selector_all("header nav a", "els => els.map(e => e.href)")
    assert len(links) == 7
    for link in links:
        visit(page, link, shots, "ui-nav-" + link.rstrip("/").rsplit("/", 1)[-1])
    assert page.locator("#events-table tr").count() == 3  # header + two trigger events
    visit(page, f"{ui_url}/monitoring", shots, "ui-monitoring")
    page.wait_for_selector(".plot .main-svg")  # the drift-over-time plot was drawn
    assert "40% of the input features drifted" in page.inner_text("#alerts-table")
    visit(page, f"{ui_url}/deployments")
    deployments = page.inner_text("body")
    assert "@production" in deployments and "100% → v2" in deployments and "@dev" in deployments


def test_a_run_page_shows_its_dag_steps_artifacts_and_report(
    page: Any, ui_url: str, shots: Path
) -> None:
    visit(page, f"{ui_url}/runs?pipeline=training&order=asc")
    page.click("#runs-table tr:nth-child(2) a.mono")
    page.wait_for_selector("svg#dag")
    assert page.locator("svg#dag g.node").count() == 6
    assert page.locator("svg#dag path[marker-end]").count() >= 5
    assert page.locator("svg#dag g.succeeded").count() == 6
    assert "roc_auc" in page.inner_text("#metrics-table")
    assert "Evaluation" in page.inner_text("#artifacts-table")
    frame = page.frame_locator("iframe.report").first
    frame.locator("h1", has_text="Evaluation of the candidate model").wait_for(timeout=15_000)
    page.wait_for_selector(".plot .main-svg")
    shoot(page, shots / "ui-run.png")
    with page.expect_download() as download:
        page.click("#artifacts-table a[href$='/download']")
    assert download.value.suggested_filename.endswith(".zip")


def test_compare_two_runs(page: Any, ui_url: str, shots: Path) -> None:
    visit(page, f"{ui_url}/runs?pipeline=training")
    boxes = page.locator("#runs-table input[name=run]")
    assert boxes.count() == 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-form button")
    page.wait_for_url("**/compare?**")
    table = page.inner_text("#compare-table")
    assert "C" in table and "0.03" in table and "roc_auc" in table
    assert page.locator("#compare-table tr.diff").count() >= 1  # C differs
    page.wait_for_selector(".plot .main-svg")
    shoot(page, shots / "ui-compare.png")


def test_lineage_of_a_model_version_reaches_its_data(page: Any, ui_url: str, shots: Path) -> None:
    visit(page, f"{ui_url}/models/lending_club")
    page.click("#versions-table a.version-lineage >> nth=0")
    page.wait_for_selector("svg#lineage-graph")
    graph = page.text_content("svg#lineage-graph") or ""
    assert "lending_club v2" in graph and "@production" in graph
    assert "produced by train" in graph and "Dataset" in graph
    shoot(page, shots / "ui-lineage.png")
    visit(page, f"{ui_url}/runs")
    page.click("#runs-table a.mono >> nth=0")
    page.click("#run-lineage")
    page.wait_for_selector("svg#lineage-graph g.execution")


def test_data_reports_show_drift_with_plots(page: Any, ui_url: str, shots: Path) -> None:
    visit(page, f"{ui_url}/reports")
    page.wait_for_selector(".plot .main-svg")
    assert "DriftReport" in page.inner_text("#reports-table")
    page.click("#reports-table tr:has-text('DriftReport') a >> nth=0")
    frame = page.frame_locator("iframe.report")
    frame.locator("p", has_text="features drifted").wait_for(timeout=15_000)
    frame.locator(".chart .main-svg").first.wait_for(timeout=15_000)  # its Plotly charts ran
    shoot(page, shots / "ui-drift.png")
    visit(page, f"{ui_url}/runs?sort=started_at")
    page.click("#runs-table a.mono >> nth=0")  # the data-checks run, the newest
    page.click("#steps-table a[href$='/log']")
    assert "reference rows" in page.inner_text("#log")


def test_rollback_is_refused_without_the_token_then_done_with_it(
    page: Any, ui_url: str, shots: Path
) -> None:
    visit(page, f"{ui_url}/models/lending_club")
    assert "v2" in page.inner_text("#aliases-table")
    page.fill("#rollback-production input[name=reason]", "v2 looks worse live")
    page.click("#rollback-production button")
    assert "Login required" in page.inner_text("h1")
    assert "needs the admin token" in page.inner_text("#error-message")
    shoot(page, shots / "ui-rollback-refused.png")
    page.goto(f"{ui_url}/login?next=/models/lending_club")
    page.fill("input[name=token]", "not-the-token")
    page.click("#login-button")
    assert "not the admin token" in page.inner_text("#login-error")
    page.fill("input[name=token]", TOKEN)
    page.click("#login-button")
    page.wait_for_url("**/models/lending_club")
    page.fill("#rollback-production input[name=reason]", "v2 looks worse live")
    page.click("#rollback-production button")
    page.wait_for_selector("#flash")
    assert "rolled back: v2 -> v1" in page.inner_text("#flash")
    assert "v1" in page.inner_text("#aliases-table")
    history = page.inner_text("#history-table")
    assert "rollback" in history and "v2 looks worse live" in history and "mloop-ui" in history
    shoot(page, shots / "ui-model.png")


def test_a_running_run_updates_live(page: Any, ui_url: str, demo_project: Path) -> None:
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.metadata.connect import disconnect_all
    from mloop.metadata.entities import ExecutionState, RunState

    store = connect(load_settings(demo_project).metadata_url)
    run = store.create_run("live")
    ex = store.create_execution(run.id, "slow_step")
    try:
        visit(page, f"{ui_url}/runs/{run.id}")
        assert page.get_attribute("svg#dag g.node", "class") == "node running"
        store.finish_execution(ex.id, ExecutionState.SUCCEEDED)
        store.finish_run(run.id, RunState.SUCCEEDED)
        page.wait_for_selector("#run-state.succeeded", timeout=15_000)
        page.wait_for_selector("svg#dag g.node.succeeded", timeout=15_000)
    finally:
        disconnect_all()


SERVE_TOKEN = "e2e-serve-admin"
MLOOP = (sys.executable, "-m", "mloop")
CANARY = ("--canary", "models:/lending_club/2:30", "--reason", "e2e canary of v2")


def _serve_env() -> dict[str, str]:
    return {**_env(), "MLOOP_SERVE_ADMIN_TOKEN": SERVE_TOKEN, "MLOOP_USER": "e2e-operator"}


@pytest.fixture
def running_service(demo_project: Path) -> Iterator[str]:
    """``mloop serve models:/lending_club@production`` on a free port (it reports itself to
    the project's metadata store)."""
    port = _free_port()
    log_path = demo_project / ".mloop" / "serve.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [*MLOOP, "serve", "models:/lending_club@production", "--port", str(port), "--no-log"],
        cwd=demo_project,
        env=_serve_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mloop serve was not ready within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_running_service_split_shows_and_follows_a_traffic_change(
    page: Any, ui_url: str, running_service: str, demo_project: Path, shots: Path
) -> None:
    row = f"tr.service:has-text('{running_service}')"
    visit(page, f"{ui_url}/deployments")
    page.wait_for_selector(row, timeout=15_000)  # reported once its model loaded
    assert "healthy" in page.inner_text(row)
    assert "follows models:/lending_club@production" in page.inner_text(f"{row} td.champion")
    assert page.inner_text(f"{row} td.canary").strip() == "—"
    done = subprocess.run(
        [*MLOOP, "traffic", "--url", running_service, *CANARY],
        cwd=demo_project,
        env=_serve_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # no reload: the page polls its live part
    page.wait_for_selector(f"{row} td.canary:has-text('30% → v2')", timeout=15_000)
    assert "70% →" in page.inner_text(f"{row} td.champion")
    history = page.inner_text("#traffic-history")
    assert "e2e canary of v2" in history and "e2e-operator" in history and "traffic" in history
    shoot(page, shots / "ui-deployments-live.png")


def _pending_deployment(project: Path) -> str:
    """A deployment of a real package of the quickstart's training pipeline, waiting for a
    manual approval (which runs the environment's CD gates on the package)."""
    from mloop.cicd.environments import open_environment
    from mloop.cicd.packages import build_package
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.metadata.connect import disconnect_all

    settings = load_settings(project)
    package = build_package(
        open_environment(project, settings.environment), "training", created_by="alice"
    )
    rows = connect(settings.metadata_url).deployments()
    pending = rows.request_deployment(
        settings.environment, package, requested_by="alice", reason="e2e", approval="manual"
    )
    disconnect_all()
    return pending.id


def test_approve_is_token_protected_and_the_policy_applies(
    page: Any, ui_url: str, demo_project: Path, shots: Path
) -> None:
    deployment = _pending_deployment(demo_project)
    form = f"#decide-{deployment}"
    visit(page, f"{ui_url}/deployments")
    if page.locator("form[action='/logout'] button").count():
        page.click("form[action='/logout'] button")  # an earlier test logged in
        visit(page, f"{ui_url}/deployments")
    page.fill(f"{form} input[name=approver]", "bob")
    page.fill(f"{form} input[name=reason]", "checked the staging runs")
    page.click(f"{form} button.approve")
    assert "Login required" in page.inner_text("h1")
    page.goto(f"{ui_url}/login?next=/deployments")
    page.fill("input[name=token]", TOKEN)
    page.click("#login-button")
    page.wait_for_url("**/deployments")
    page.fill(f"{form} input[name=approver]", "alice")  # who asked: manual approval refuses
    page.fill(f"{form} input[name=reason]", "my own change")
    page.click(f"{form} button.approve")
    assert "someone other than alice" in page.inner_text("#error-message")
    shoot(page, shots / "ui-approve-refused.png")
    visit(page, f"{ui_url}/deployments")
    page.fill(f"{form} input[name=approver]", "bob")
    page.fill(f"{form} input[name=reason]", "checked the staging runs")
    page.click(f"{form} button.approve")
    page.wait_for_selector("#flash")
    assert "approved by bob: active" in page.inner_text("#flash")
    assert page.locator(form).count() == 0
    table = page.inner_text("#pipeline-deployments")
    assert "bob" in table and "checked the staging runs" in table


def test_screenshots_were_saved(shots: Path) -> None:
    saved = {p.name for p in shots.glob("*.png")}
    assert {"ui-runs.png", "ui-nav-models.png", "ui-monitoring.png", "ui-model.png"} <= saved
    readme_copy = os.environ.get("MLOOP_UI_README_SCREENSHOT")
    if readme_copy:  # docs/img/ui-runs.png is refreshed with this variable set
        shutil.copy(shots / "ui-runs.png", readme_copy)
