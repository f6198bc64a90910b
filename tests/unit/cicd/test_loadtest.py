"""``mloop loadtest``: the async load generator against a real loopback server, the budget,
the loopback-only rule, and the CLI end to end (service started, run recorded, exit codes)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mloop.cicd.loadtest.run import (
    LoadBudget,
    LoadResult,
    check_budget,
    check_loopback,
    example_payload,
    run_load,
)
from mloop.errors import ConfigError, ValidationError

runner = CliRunner()


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, dict]]:
    """A loopback server answering /invocations after a 2 ms pause: 200, or 500 while its
    state says ``fail``."""
    import asyncio

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mloop.cicd.service_process import free_port

    state = {"fail": False}

    async def invocations(request):  # type: ignore[no-untyped-def]
        await request.body()
        await asyncio.sleep(0.002)
        if state["fail"]:
            return JSONResponse({"error_code": "BUG"}, status_code=500)
        return JSONResponse({"predictions": [0]})

    port = free_port()
    app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", state
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("client", ["httpx", "raw"])
def test_load_is_measured_and_errors_counted(flaky_server: tuple[str, dict], client: str) -> None:
    url, state = flaky_server
    result = run_load(url, b"{}", duration_s=1.0, concurrency=4, rows=1, client=client)
    assert result.requests > 20 and result.errors == 0 and result.status_counts.keys() == {"200"}
    assert result.qps == pytest.approx(result.requests / result.duration_s, rel=0.01)
    assert 2.0 <= result.p50_ms <= result.p99_ms  # type: ignore[operator]
    assert 0.9 <= result.duration_s < 3.0
    state["fail"] = True
    failing = run_load(url, b"{}", duration_s=0.5, concurrency=2, rows=1, client=client)
    assert failing.requests > 5 and failing.error_rate == 1.0 and failing.qps == 0.0
    assert failing.status_counts.keys() == {"500"}


@pytest.mark.parametrize("client", ["httpx", "raw"])
def test_a_dead_target_is_all_errors(client: str) -> None:
    from mloop.cicd.service_process import free_port

    result = run_load(
        f"http://127.0.0.1:{free_port()}",
        b"{}",
        duration_s=0.3,
        concurrency=2,
        rows=1,
        client=client,
    )
    assert result.requests > 0 and result.error_rate == 1.0 and result.qps == 0.0


def test_an_unknown_client_is_refused() -> None:
    with pytest.raises(ValidationError, match="client"):
        run_load("http://127.0.0.1:1", b"{}", duration_s=1, concurrency=1, rows=1, client="curl")


def test_only_loopback_targets_are_accepted() -> None:
    assert check_loopback("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    for url in ("http://example.com:80", "http://10.0.0.1:8080", "ftp://127.0.0.1/"):
        with pytest.raises(ValidationError, match=r"127\.0\.0\.1"):
            check_loopback(url)


def test_payload_repeats_the_example_and_sends_nulls() -> None:
    example = pd.DataFrame({"a": [1.0, None], "s": ["x", None]})
    body = json.loads(example_payload(example, 5))
    assert body["dataframe_split"]["columns"] == ["a", "s"]
    assert body["dataframe_split"]["data"] == [
        [1.0, "x"],
        [None, None],
        [1.0, "x"],
        [None, None],
        [1.0, "x"],
    ]
    with pytest.raises(ValidationError, match="input example"):
        example_payload(None, 1)


def result(**over: float) -> LoadResult:
    base = dict(
        url="u",
        concurrency=1,
        rows=1,
        duration_s=1.0,
        requests=100,
        errors=0,
        qps=100.0,
        p50_ms=5.0,
        p99_ms=20.0,
        error_rate=0.0,
    )
    return LoadResult(**{**base, **over})  # type: ignore[arg-type]


def test_budget_names_every_broken_limit() -> None:
    budget = LoadBudget.from_dict({"min_qps": 200, "max_p99_ms": 10, "max_error_rate": 0.0})
    assert check_budget(result(), budget) == [
        "QPS 100.0 is below min_qps 200",
        "p99 latency 20.0 ms is over max_p99_ms 10",
    ]
    assert check_budget(result(error_rate=0.01, qps=300, p99_ms=5), budget) == [
        "error rate 0.0100 is over max_error_rate 0"
    ]
    assert check_budget(result(), LoadBudget()) == []
    with pytest.raises(ConfigError, match="unknown"):
        LoadBudget.from_dict({"min_rps": 1})
    with pytest.raises(ConfigError, match="number"):
        LoadBudget.from_dict({"min_qps": "fast"})


@pytest.mark.integration
def test_cli_serves_records_and_gates(project_dir: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.metadata import connect
    from mloop.models import save_model
    from mloop.registry import ModelRegistry

    x = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "c": ["a", "b", "a", "b"]})
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(x, [0, 0, 1, 1])
    package = save_model(model, project_dir / "pkg", input_example=x)
    settings = load_settings(project_dir)
    registry = ModelRegistry(
        connect(settings.metadata_url), connect_artifacts(settings.artifact_root)
    )
    registry.register_model("lt", package)
    (project_dir / "mloop.yaml").write_text(
        yaml.safe_dump({"project": "lt", "loadtest": {"min_qps": 1_000_000}}), encoding="utf-8"
    )
    args = ["loadtest", "models:/lt/1", "--duration", "1", "--concurrency", "2", "--json"]
    out = runner.invoke(app_(), args)
    assert out.exit_code == 1, out.output  # nobody serves a million QPS here
    data = json.loads(out.stdout)
    assert data["requests"] > 0 and data["error_rate"] == 0.0
    assert data["broken"][0].startswith("QPS") and "min_qps 1000000" in data["broken"][0]
    store = connect(settings.metadata_url)
    run = store.get_run(data["run_id"])
    assert run.experiment == "loadtest" and run.tags["model"] == "lt"
    assert run.tags["version"] == "1" and run.state.value == "failed"
    assert store.latest_metrics([run.id])[run.id]["qps"] == pytest.approx(data["qps"])
    tags = registry.get_model_version("lt", 1).tags
    assert (
        tags["mloop.loadtest.run_id"] == run.id and tags["mloop.loadtest.result"] == "over budget"
    )
    (project_dir / "mloop.yaml").write_text(
        yaml.safe_dump({"project": "lt", "loadtest": {"max_error_rate": 0.0}}), encoding="utf-8"
    )
    ok = runner.invoke(app_(), ["loadtest", "models:/lt/1", "--duration", "0.5", "--no-record"])
    assert ok.exit_code == 0, ok.output
    assert "QPS" in ok.stdout


def app_():  # type: ignore[no-untyped-def]
    from mloop.cli.main import app

    return app
