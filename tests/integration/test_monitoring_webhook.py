"""Alerts POSTed to a webhook (a local HTTP server on 127.0.0.1) and the ``mloop monitor`` CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/mloop", _Hook.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_new_alerts_are_posted_once_as_json(
    project_dir: Path, webhook, monitoring_kit: Any
) -> None:
    from mloop.monitoring import run_monitoring

    url, received = webhook
    project = monitoring_kit.Project(project_dir)
    version = project.register()
    now = datetime.now(timezone.utc)
    project.serve(version, at=now - timedelta(minutes=5), shift=1.5, seed=2)
    rules = [{"name": "drift", "metric": "share_drifted", "above": 0.3}]
    run_monitoring("credit", window="1h", now=now, rules=rules, webhook=url)
    run_monitoring("credit", window="1h", now=now, rules=rules, webhook=url)
    (body,) = received
    assert body["event"] == "alert.opened"
    assert body["alert"]["rule"] == "drift" and body["alert"]["model"] == "credit"
    assert body["alert"]["value"] == pytest.approx(2 / 3)
    assert body["alert"]["payload"]["version"] == str(version)


def test_dead_webhook_does_not_fail_the_job(project_dir: Path) -> None:
    from mloop.monitoring.webhook import post_json

    assert post_json("http://127.0.0.1:9/none", {"x": 1}, timeout_s=0.5, attempts=2) is False


def test_monitor_cli(project_dir: Path, webhook, tmp_path: Path, monitoring_kit: Any) -> None:
    from mloop.cli.main import app

    url, received = webhook
    (project_dir / "mloop.yaml").write_text(
        "monitoring:\n"
        f"  webhook: {url}\n"
        "  rules:\n    - {name: drift, metric: share_drifted, above: 0.3}\n"
    )
    project = monitoring_kit.Project(project_dir)
    version = project.register()
    project.serve(version, shift=1.5, seed=2, feedback=1.0)
    runner = CliRunner()
    out = tmp_path / "report.html"
    done = runner.invoke(app, ["monitor", "run", "--model", "credit", "--html", str(out), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["dataset_drifted"] and doc["labelled_rows"] == 400 and doc["alerts"]
    assert out.stat().st_size > 100_000 and "Plotly" in out.read_text()
    assert [b["event"] for b in received] == ["alert.opened"]
    project.fail(version, requests=25, status=500)  # 400 rows in requests of 4: 100 answered
    human = runner.invoke(app, ["monitor", "run", "--model", "credit"])
    assert human.exit_code == 0 and "share 0.67" in human.stdout
    assert "errors: 25 of 125 requests failed (error rate 20.00%; 25 server errors)" in " ".join(
        human.stdout.split()
    )
    listed = json.loads(runner.invoke(app, ["monitor", "reports", "--json"]).stdout)
    assert len(listed) == 2 and listed[0]["model"] == "credit"
    alerts = json.loads(
        runner.invoke(app, ["monitor", "alerts", "--state", "open", "--json"]).stdout
    )
    assert [a["rule"] for a in alerts] == ["drift"] and alerts[0]["occurrences"] == 2
    bad = runner.invoke(app, ["monitor", "alerts", "--state", "closed"])
    assert bad.exit_code != 0 and "open" in bad.output
    typo = runner.invoke(app, ["monitor", "run", "--model", "credt"])
    assert typo.exit_code != 0 and "not registered" in typo.output
    window = runner.invoke(app, ["monitor", "run", "--model", "credit", "--window", "1 hour"])
    assert window.exit_code != 0 and "15m" in window.output
