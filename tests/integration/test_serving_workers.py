"""Issue 18 over real HTTP: ``mloop serve`` subprocesses on 127.0.0.1.

Admin changes reach both workers of ``--workers 2``; an explicit reload pins the champion and
``mloop traffic --follow`` unpins it; a client that leaves mid-body is a client abort, not an
error; stdlib urllib sees the 413; slow headers and bodies time out. Every loop is bounded.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from tests.integration.test_serving_http import ROW, mloop_serve, oip_body, save_package

pytestmark = pytest.mark.integration

ADMIN = {"MLOOP_SERVE_ADMIN_TOKEN": "adm"}
AUTH = {"authorization": "Bearer adm"}


def fresh_answers(url: str, n: int, path: str = "/v2/models/credit/infer") -> list[dict]:
    """``n`` answers, each on a new connection (so the kernel spreads them over workers)."""
    out = []
    for _ in range(n):
        resp = httpx.post(f"{url}{path}", json=oip_body(), timeout=10)
        assert resp.status_code == 200, resp.text
        out.append(resp.json())
    return out


def traffic_by_worker(url: str, tries: int = 60) -> dict[str, dict]:
    """GET /admin/traffic on new connections until two workers answered (at most ``tries``)."""
    seen: dict[str, list[dict]] = {}
    for _ in range(tries):
        resp = httpx.get(f"{url}/admin/traffic", headers=AUTH, timeout=10)
        assert resp.status_code == 200, resp.text
        seen.setdefault(resp.headers["x-mloop-worker"], []).append(resp.json())
        if len(seen) >= 2 and sum(map(len, seen.values())) >= 10:
            break
    return {pid: docs for pid, docs in seen.items()}


def test_admin_reload_and_traffic_reach_every_worker(project_dir: Path) -> None:
    import mloop.registry

    mloop.registry.register_model("credit", save_package(project_dir / "v1"))
    mloop.registry.register_model("credit", save_package(project_dir / "v2", constant=1))
    mloop.registry.set_alias("credit", "production", 1, reason="first")
    zeros = save_package(project_dir / "zeros", constant=0)
    args = ["models:/credit@production", "--workers", "2", "--poll-interval", "0", "--no-log"]
    with mloop_serve(args, project_dir, ADMIN) as (_, url):
        assert {a["model_version"] for a in fresh_answers(url, 10)} == {"1"}
        mloop.registry.set_alias("credit", "production", 2, reason="v2")  # not polled (0)
        resp = httpx.post(f"{url}/admin/reload", json={}, headers=AUTH, timeout=120)
        assert resp.status_code == 200, resp.text
        versions = [a["model_version"] for a in fresh_answers(url, 60)]
        assert set(versions) == {"2"}, versions  # before: mixed 1/2 (one worker reloaded)
        assert resp.json()["applied"] == {
            "generation": 1,
            "workers": 2,
            "applied": 2,
            "complete": True,
            "errors": [],
        }

        canary = {"canary": {"uri": str(zeros), "percent": 100}}
        resp = httpx.put(f"{url}/admin/traffic", json=canary, headers=AUTH, timeout=120)
        assert resp.status_code == 200, resp.text
        body = {"dataframe_records": [ROW | {"income": 90.0}]}
        answers = [httpx.post(f"{url}/invocations", json=body, timeout=10) for _ in range(60)]
        assert {a.json()["predictions"][0] for a in answers} == {0}  # every worker's canary
        assert resp.json()["applied"]["complete"], resp.text

        states = traffic_by_worker(url)
        assert len(states) == 2, list(states)
        docs = [d for ds_ in states.values() for d in ds_]
        assert all(d == docs[0] for d in docs), docs  # the same state from every worker
        assert docs[0]["canary"]["uri"] == str(zeros) and docs[0]["champion"]["version"] == "2"
        assert {w["generation"] for w in docs[0]["workers"]} == {docs[0]["generation"]}


def test_reload_with_a_uri_pins_and_follow_unpins(project_dir: Path) -> None:
    from typer.testing import CliRunner

    import mloop.registry
    from mloop.cli.main import app

    mloop.registry.register_model("credit", save_package(project_dir / "v1"))
    mloop.registry.register_model("credit", save_package(project_dir / "v2", constant=1))
    mloop.registry.set_alias("credit", "production", 2, reason="first")
    args = ["models:/credit@production", "--poll-interval", "0.1", "--no-log"]
    with mloop_serve(args, project_dir, ADMIN) as (_, url):
        pin = {"uri": "models:/credit/1"}
        resp = httpx.post(f"{url}/admin/reload", json=pin, headers=AUTH, timeout=60)
        assert resp.status_code == 200 and resp.json()["version"] == "1", resp.text
        shown = httpx.get(f"{url}/admin/traffic", headers=AUTH, timeout=10).json()
        assert shown["pinned"] is True and shown["follows"] == "models:/credit@production"
        assert shown["champion"]["uri"] == "models:/credit/1"
        again = httpx.post(f"{url}/admin/reload", json={}, headers=AUTH, timeout=60).json()
        assert again["version"] == "1" and again["pinned"] is True  # visible, not silent
        time.sleep(0.5)  # several alias polls: a pinned champion does not follow
        assert {a["model_version"] for a in fresh_answers(url, 5)} == {"1"}

        out = CliRunner().invoke(app, ["traffic", "--url", url, "--follow", "--json"], env=ADMIN)
        assert out.exit_code == 0, out.output
        doc = json.loads(out.output)
        assert doc["pinned"] is False and doc["champion"]["version"] == "2"
        assert doc["champion"]["uri"] == "models:/credit@production"
        assert {a["model_version"] for a in fresh_answers(url, 5)} == {"2"}
        mloop.registry.set_alias("credit", "production", 1, reason="back")
        deadline = time.monotonic() + 20
        while fresh_answers(url, 1)[0]["model_version"] != "1":  # following again
            assert time.monotonic() < deadline, "the alias was not followed after --follow"
            time.sleep(0.1)


def _raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def test_client_leaving_mid_body_is_a_client_abort_not_an_error(tmp_path: Path) -> None:
    package = save_package(tmp_path / "credit")
    logs = tmp_path / "logs"
    args = [str(package), "--log-dir", str(logs), "--log-flush-seconds", "0.2"]
    with mloop_serve(args, tmp_path) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        for _ in range(5):
            sock = _raw(port)
            sock.sendall(
                b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n" + b"{" * 400
            )
            time.sleep(0.1)
            sock.close()
        time.sleep(1.0)
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert httpx.post(f"{url}/v2/models/credit/infer", json=oip_body()).status_code == 200
        time.sleep(1.0)  # the error log flushes every 0.2 s
    aborts = [line for line in metrics.splitlines() if line.startswith("mloop_client_aborts_total")]
    assert aborts and float(aborts[0].rsplit(" ", 1)[1]) == 5, metrics
    assert 'error_code="internal"' not in metrics
    assert not list((logs / "errors").rglob("*.parquet"))  # nothing feeds error_rate
    server_log = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert "Traceback" not in server_log and "internal" not in server_log


def test_urllib_sending_the_whole_body_first_sees_the_413(tmp_path: Path) -> None:
    package = save_package(tmp_path / "credit")
    limit = 1024 * 1024
    args = [str(package), "--no-log", "--max-body-bytes", str(limit)]
    big = json.dumps({"inputs": [{"name": "x", "data": "a" * int(1.6 * limit)}]}).encode()
    with mloop_serve(args, tmp_path) as (_, url):
        for _ in range(3):
            request = urllib.request.Request(
                f"{url}/v2/models/credit/infer",
                data=big,
                headers={"content-type": "application/json"},
                method="POST",
            )
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=30)  # before: ConnectionResetError
            assert caught.value.code == 413
            assert json.loads(caught.value.read())["error_code"] == "payload_too_large"
        assert httpx.post(f"{url}/v2/models/credit/infer", json=oip_body()).status_code == 200


def _wait_closed(sock: socket.socket, trickle: bytes, seconds: float) -> tuple[bytes, float]:
    """Send ``trickle`` one byte every 0.2 s until the server answers or closes (at most
    ``seconds``); returns what it sent and when (s after the start)."""
    start = time.monotonic()
    sock.settimeout(0.2)
    got = b""
    for i in range(int(seconds / 0.2)):
        try:
            if not got:  # once the server answers, only read the rest of its answer
                sock.sendall(trickle[i % len(trickle) : i % len(trickle) + 1])
        except OSError:
            break
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        got += data
        if not data or _answer_complete(got):
            break
    return got, time.monotonic() - start


def _answer_complete(got: bytes) -> bool:
    """Whether ``got`` holds a whole answer: its headers and all ``content-length`` bytes of
    its body (a server may send the two in separate writes, so one recv can end between them)."""
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return length is None or len(body) >= int(length.group(1))


def test_slow_headers_and_slow_bodies_time_out(tmp_path: Path) -> None:
    package = save_package(tmp_path / "credit")
    args = [str(package), "--no-log", "--header-timeout", "1", "--body-timeout", "1"]
    with mloop_serve(args, tmp_path) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        sock = _raw(port)
        sock.sendall(b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n")
        got, took = _wait_closed(sock, b"x-slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 6.0)
        sock.close()
        assert got.startswith(b"HTTP/1.1 408"), got  # before: still open after 6 s
        assert took < 4.0

        sock = _raw(port)
        sock.sendall(
            b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\ncontent-length: 500\r\n\r\n{"
        )
        got, took = _wait_closed(sock, b" ", 6.0)
        sock.close()
        assert got.startswith(b"HTTP/1.1 408"), got
        assert b"request_timeout" in got and took < 4.0
        assert httpx.post(f"{url}/v2/models/credit/infer", json=oip_body()).status_code == 200
