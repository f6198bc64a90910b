"""``mloop quickstart --loop``: the closed loop on the Lending Club demo, in about a minute.

The champion serves (``mloop serve models:/lending_club@production`` in a subprocess); requests
built from the demo loans arrive, then the same loans with shifted numeric features; monitoring
(``mloop.monitoring.run_monitoring``) reads the prediction log and records a report with the share
of drifted features; the controller's drift trigger fires the training pipeline; evaluation and
infra validation bless the new model and ``push`` moves the alias; the service follows the alias
and swaps without a failed request (counted by the client). The lineage chain from the report to
the new serving version is read back from the metadata store.

The loop always starts from an empty ``.mloop`` in its folder (default ``./mloop-loop``), so a
second run shows the same story; ``fresh`` also re-copies the demo's files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

MODEL = "lending_club"
DEFAULT_FOLDER = "mloop-loop"
DRIFT_THRESHOLD = 0.3  # share of drifted features that fires the retrain
RETRAIN_PARAMS = {"C": 0.12}  # the retrain differs a little from the champion (C=0.1)
PROJECT_FILE = f"""# The closed-loop demo (mloop quickstart --loop): retrain when inputs drift.
project: lending_club_loop
default_environment: dev
environments:
  dev:
    metadata: sqlite:///.mloop/mloop.db
    artifacts: .mloop/artifacts
pipelines:
  training:
    entrypoint: pipelines/training.py:training
    params:
      source: data/lending_club.parquet
    triggers:
      - drift: {{model: {MODEL}, share_of_drifted_features: {DRIFT_THRESHOLD},
                 params: {{C: {RETRAIN_PARAMS["C"]}}}}}
      - policy: {{max_concurrent: 1, debounce_s: 300}}
"""


@dataclass
class LoopResult:
    """What the loop did: versions, the trigger and report ids, stage times (s), traffic."""

    project_dir: Path
    champion_version: int | None = None
    new_version: int | None = None
    report_id: str | None = None
    event_id: str | None = None
    run_id: str | None = None
    share_drifted: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    failed: int = 0
    served_versions: dict[str, int] = field(default_factory=dict)
    chain: list[Any] = field(default_factory=list)

    @property
    def drift_to_serving_s(self) -> float:
        """Seconds from drift visible in the log to the new version answering requests."""
        keys = ("detect", "trigger", "retrain", "swap")
        return sum(self.stages.get(k, 0.0) for k in keys)


class Traffic:
    """A client thread sending OIP requests of ``batch`` rows, normal then drifted; it counts
    every answer that is not a 200 with predictions as a failure."""

    def __init__(self, base_url: str, rows: Any, batch: int = 20, pause_s: float = 0.02) -> None:
        self.base_url = base_url
        self.normal = rows
        self.drifted = shifted(rows)
        self.batch = batch
        self.pause_s = pause_s
        self.drifting = False
        self.requests = 0
        self.failed: list[str] = []
        self.versions: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import httpx

        url = f"{self.base_url}/v2/models/{MODEL}/infer"
        offset = 0
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                frame = self.drifted if self.drifting else self.normal
                if offset + self.batch > frame.height:
                    offset = 0
                body = oip_request(frame.slice(offset, self.batch))
                offset += self.batch
                self.requests += 1
                try:
                    answer = client.post(url, json=body)
                    if answer.status_code != 200:
                        self.failed.append(f"{answer.status_code}: {answer.text[:200]}")
                    else:
                        version = str(answer.json().get("model_version"))
                        self.versions[version] = self.versions.get(version, 0) + 1
                        self.first_seen.setdefault(version, time.monotonic())
                except Exception as exc:  # a refused connection is a failed request too
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.pause_s)


def demo_rows() -> Any:
    """The demo loans without the label and without nulls (what a client would send)."""
    import polars as pl

    from mloop.demo.sources import demo_source

    data = pl.read_parquet(demo_source() / "data" / "lending_club.parquet")
    return data.drop("Class").drop_nulls()


def shifted(rows: Any) -> Any:
    """The same loans with every numeric feature scaled by 1.6 and moved up by 1: a drift
    of most features that a model still answers."""
    import polars as pl

    exprs = []
    for name, dtype in rows.schema.items():
        if dtype.is_integer():
            exprs.append((pl.col(name) * 1.6 + 1).round(0).cast(dtype).alias(name))
        elif dtype.is_float():
            exprs.append((pl.col(name) * 1.6 + 1).alias(name))
    return rows.with_columns(exprs)


def oip_request(frame: Any) -> dict[str, Any]:
    """An OIP v2 request body with one named input per column."""
    inputs = []
    for name, dtype in frame.schema.items():
        kind = "INT64" if dtype.is_integer() else "FP64" if dtype.is_float() else "BYTES"
        values = frame[name].to_list()
        inputs.append({"name": name, "shape": [len(values)], "datatype": kind, "data": values})
    return {"inputs": inputs}


def prepare_loop_project(folder: Path, *, fresh: bool) -> Path:
    """The loop's project folder: demo data and pipeline, its own mloop.yaml, empty .mloop."""
    from mloop.demo.sources import demo_source

    folder = folder.resolve()
    source = demo_source()
    if fresh:
        for name in ("data", "pipelines"):
            shutil.rmtree(folder / name, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("data", "pipelines"):
        if not (folder / name).exists():
            shutil.copytree(source / name, folder / name)
    (folder / "mloop.yaml").write_text(PROJECT_FILE, encoding="utf-8")
    shutil.rmtree(folder / ".mloop", ignore_errors=True)
    return folder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    import httpx

    from mloop.errors import MloopError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise MloopError(f"the prediction service exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise MloopError(f"the prediction service at {url} was not ready within {timeout_s:.0f} s")


def _logged_rows_since(log_dir: Path, since: Any) -> int:
    """Rows of the model's prediction log stamped at or after ``since`` (files in place only)."""
    import polars as pl

    files = sorted((log_dir / "predictions" / MODEL).glob("**/*.parquet"))
    if not files:
        return 0
    frame = pl.scan_parquet(files).filter(pl.col("timestamp") >= since)
    return int(frame.select(pl.len()).collect().item())


def run_loop_quickstart(
    project_dir: Path | None = None,
    *,
    fresh: bool = False,
    echo: Any = print,
    timeout_s: float = 150.0,
) -> LoopResult:
    """Run the closed loop once (see the module doc); ``echo`` gets one line per stage."""
    from mloop._utils.clock import utc_now
    from mloop.config import load_settings
    from mloop.controller.chain import trigger_chain
    from mloop.controller.daemon import Controller
    from mloop.controller.ondemand import request_run, run_now
    from mloop.errors import MloopError
    from mloop.metadata import connect
    from mloop.metadata.controller_state import EventState
    from mloop.monitoring.jobs import run_monitoring

    started = time.monotonic()
    deadline = started + timeout_s
    folder = prepare_loop_project(Path(project_dir or DEFAULT_FOLDER), fresh=fresh)
    settings = load_settings(folder)
    store = connect(settings.metadata_url)
    result = LoopResult(project_dir=folder)
    echo(f"loop project: {folder}")

    tick = time.monotonic()
    champion = run_now(
        store,
        settings,
        request_run(
            store,
            settings,
            "training",
            reason="champion for the loop demo",
            kind="quickstart",
            params={"C": 0.1},
        ),
    )
    if champion.state is not EventState.SUCCEEDED:
        raise MloopError(f"training the champion failed: {champion.error}")
    registry = store.model_registry()
    result.champion_version = registry.get_alias(MODEL, "production")
    result.stages["champion"] = time.monotonic() - tick
    echo(
        f"champion: {MODEL} v{result.champion_version} @production "
        f"({result.stages['champion']:.1f} s)"
    )

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    server_log = (settings.state_dir / "serve.log").open("ab")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mloop",
            "serve",
            f"models:/{MODEL}@production",
            "--port",
            str(port),
            "--poll-interval",
            "0.25",
            "--log-flush-seconds",
            "0.2",
        ],
        cwd=folder,
        env=_child_env(),
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    server_log.close()  # the child holds its own descriptor
    traffic: Traffic | None = None
    controller: Controller | None = None
    try:
        tick = time.monotonic()
        _wait_ready(url, server, 30.0)
        result.stages["serve"] = time.monotonic() - tick
        echo(f"serving {MODEL}@production on {url} ({result.stages['serve']:.1f} s)")
        traffic = Traffic(url, demo_rows())
        traffic.start()
        time.sleep(1.0)  # some normal traffic first

        drift_start = utc_now()
        traffic.drifting = True
        tick = time.monotonic()
        while _logged_rows_since(settings.state_dir, drift_start) < 400:
            if time.monotonic() > deadline:
                raise MloopError("drifted traffic did not reach the prediction log in time")
            time.sleep(0.1)
        visible = time.monotonic()
        result.stages["log"] = visible - tick
        echo(f"drifted traffic visible in the prediction log ({result.stages['log']:.1f} s)")

        report = run_monitoring(
            MODEL,
            window=timedelta(seconds=(utc_now() - drift_start).total_seconds() + 0.01),
            settings=settings,
            store=store,
            rules=[],
        )
        result.report_id = report.id
        result.share_drifted = report.share_drifted
        result.stages["detect"] = time.monotonic() - visible
        echo(
            f"monitoring report {report.id}: {report.num_rows} rows, "
            f"{(report.share_drifted or 0):.0%} of features drifted "
            f"({result.stages['detect']:.1f} s)"
        )

        tick = time.monotonic()
        controller = Controller(settings, store, interval_s=0.25, holder="quickstart-loop")
        controller.started_at = drift_start  # reports from the drift on are new to it
        event = None
        while event is None or event.state is not EventState.SUCCEEDED:
            if time.monotonic() > deadline:
                raise MloopError("the drift-triggered retrain did not finish in time")
            fired = controller.tick()
            if event is None and fired.fired:
                event = fired.fired[0]
                result.event_id = event.id
                result.stages["trigger"] = time.monotonic() - tick
                echo(f"controller: {event.kind} trigger {event.id} fired: {event.reason}")
                tick = time.monotonic()
            elif event is not None:
                event = store.controller_state().get_event(event.id)
                if event.state is EventState.FAILED:
                    raise MloopError(f"the retrain failed: {event.error}")
            if event is None or event.state is not EventState.SUCCEEDED:
                time.sleep(0.25)
        result.run_id = event.run_id
        result.stages["retrain"] = time.monotonic() - tick
        result.new_version = registry.get_alias(MODEL, "production")
        echo(
            f"retrain run {event.run_id} succeeded: @production -> v{result.new_version} "
            f"({result.stages['retrain']:.1f} s)"
        )

        tick = time.monotonic()
        new = str(result.new_version)
        while new not in traffic.versions:
            if time.monotonic() > deadline:
                raise MloopError(f"the service did not swap to v{new} in time")
            time.sleep(0.05)
        result.stages["swap"] = (
            traffic.first_seen[new] - tick if traffic.first_seen[new] > tick else 0.0
        )
        time.sleep(0.5)  # a little traffic on the new version
        echo(f"service answers with v{new} ({result.stages['swap']:.1f} s after promotion)")
    finally:
        if traffic is not None:
            traffic.stop()
            result.requests = traffic.requests
            result.failed = len(traffic.failed)
            result.served_versions = dict(traffic.versions)
        if controller is not None:
            controller.wait_for_children(30)
            controller.state.release_lease("controller", controller.holder)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    result.chain = trigger_chain(store, result.event_id) if result.event_id else []
    result.stages["total"] = time.monotonic() - started
    echo(
        f"{result.requests} requests, {result.failed} failed; versions served "
        f"{result.served_versions}"
    )
    for link in result.chain:
        echo(f"  {link.kind:18} {link.id}  {link.detail}")
    return result
