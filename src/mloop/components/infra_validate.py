"""The ``infra_validate`` component: before a push, serve the candidate package from a fresh
process on a free 127.0.0.1 port and send it real requests (the package's input example, then
test rows one at a time and in one batch). It passes only if every answer equals the in-process
prediction, the server's resident memory stays under ``max_rss_mb`` (MB) and the 95th percentile
latency under ``max_p95_ms`` (ms). The result is an InfraBlessing artifact.

``server="mloop"`` (the default) runs mloop's own prediction service (``python -m mloop serve
PACKAGE --port N``, MLflow scoring protocol) on a free port and waits for ``GET /ping``;
``server="minimal"`` runs :mod:`mloop.components.infra_server`, a small stand-alone server that
also returns probabilities (used where the full service is not wanted).

A server that cannot load the candidate exits at once with its reason on stderr (``error:
cannot serve ...``); the wait for readiness watches the process and fails as soon as it has
exited, quoting that reason, instead of waiting out the startup timeout.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mloop._utils.processes import stop_child
from mloop.components.model_artifacts import register_model_materializers
from mloop.errors import MloopError, ValidationError
from mloop.models import ModelPackage
from mloop.pipelines.dsl import step

__all__ = ["InfraBlessing", "infra_validate", "validate_infra"]

register_model_materializers()

SERVER_MODULE = "mloop.components.infra_server"
STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class InfraBlessing:
    """Outcome of the infrastructure validation; times in ms, memory in MB (RSS)."""

    blessed: bool
    reasons: list[str]
    requests: int
    mismatches: int
    startup_s: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    rss_mb: float | None = None
    budget: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InfraBlessing:
        return cls(**data)


def _rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class ServerStartError(ValidationError):
    """The model server exited, or did not get ready in time, before answering a request."""


def _exited(proc: subprocess.Popen[bytes], errors: Any) -> ServerStartError:
    """The error for a server process that has exited: its exit code and its own reason."""
    try:
        code: Any = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = "none yet"  # it closed its output but lingers; _stop ends it
    return ServerStartError(
        f"the model server exited (exit code {code}) before it was ready: {_reason(errors)}"
    )


def _reason(errors: Any) -> str:
    """The server's reason from its stderr: its ``error:`` line, else its last line (the
    exception of a traceback)."""
    errors.flush()
    errors.seek(0)
    lines = [ln.strip() for ln in errors.read().decode(errors="replace").splitlines()]
    errors.seek(0, os.SEEK_END)
    lines = [ln for ln in lines if ln]
    for line in lines:
        if line.startswith("error:"):
            return line[len("error:") :].strip()
    return lines[-1][-500:] if lines else "it wrote nothing on stderr"


def _read_ready_line(
    proc: subprocess.Popen[bytes], timeout_s: float, errors: Any
) -> dict[str, Any]:
    """The server's first stdout line (its port), waiting at most ``timeout_s`` seconds;
    ``ServerStartError`` as soon as the process exits without one."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    buffer = b""
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            if b"\n" in buffer:
                return json.loads(buffer.split(b"\n", 1)[0])
    finally:
        selector.close()
    if proc.poll() is None and time.monotonic() >= deadline:
        raise ServerStartError(
            f"the model server did not report ready within {timeout_s:.0f} s: {_reason(errors)}"
        )
    raise _exited(proc, errors)  # its stdout closed: it is exiting


def _payload(frame: Any) -> dict[str, Any]:
    """``dataframe_split`` JSON for ``frame`` (NaN sent as null)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return {"dataframe_split": {"columns": list(frame.columns), "data": clean.values.tolist()}}


def _same(expected: Any, got: Any, *, probabilities: bool) -> bool:
    import numpy as np

    a, b = np.asarray(expected), np.asarray(got)
    if a.shape != b.shape:
        return False
    if probabilities or a.dtype.kind == "f":
        return bool(np.allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-12))
    return bool(np.all(a.astype(str) == b.astype(str)))


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(server: str, package: ModelPackage) -> tuple[list[str], int | None]:
    """The server's command line and its port (None: the server reports it on stdout)."""
    if server == "minimal":
        return [sys.executable, "-m", SERVER_MODULE, str(package.path)], None
    if server == "mloop":
        port = _free_port()
        return [
            sys.executable,
            "-m",
            "mloop",
            "serve",
            str(package.path),
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-log",
            "--poll-interval",
            "0",
            "--allow-nan",
        ], port
    raise ValidationError(f"server {server!r} is not 'mloop' or 'minimal'")


def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout_s: float, errors: Any) -> None:
    """Poll ``GET /ping`` every 0.1 s until it answers 200; ``ServerStartError`` as soon as
    the process has exited (a model it cannot load makes it exit) or when the deadline
    passes."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _exited(proc, errors)
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ServerStartError(
        f"the model server did not report ready within {timeout_s:.0f} s: {_reason(errors)}"
    )


def validate_infra(
    package: ModelPackage,
    samples: Any = None,
    *,
    server: str = "mloop",
    single_requests: int = 20,
    batch_rows: int = 200,
    max_rss_mb: float = 1024.0,
    max_p95_ms: float = 250.0,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> InfraBlessing:
    """Serve ``package`` in a fresh subprocess and check its answers (see the module doc).
    ``samples`` is a frame of test rows (extra columns are ignored by the signature)."""
    import httpx
    import numpy as np

    from mloop.models.package import as_pandas

    budget = {"max_rss_mb": max_rss_mb, "max_p95_ms": max_p95_ms}
    try:
        model = package.load()
    except MloopError as exc:  # a corrupt or unloadable package is a verdict, not a crash
        return InfraBlessing(False, [f"the package cannot be loaded: {exc}"], 0, 0, budget=budget)
    frames = []
    example = package.input_example()
    if example is not None:
        frames.append(example)
    if samples is not None:
        rows = as_pandas(samples)
        if model.signature is not None:
            rows = rows[[c for c in model.signature.input_names if c in rows.columns]]
        frames += [rows.iloc[[i]] for i in range(min(single_requests, len(rows)))]
        if len(rows):
            frames.append(rows.head(batch_rows))
    if not frames:
        raise ValidationError("infra validation needs requests: a package input example or samples")
    started = time.monotonic()
    command, port = _command(server, package)
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE if port is None else errors,
        stderr=errors,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    reasons: list[str] = []
    latencies: list[float] = []
    mismatches = 0
    rss = None
    startup_s = None
    try:
        try:
            if port is None:
                port = int(_read_ready_line(proc, startup_timeout_s, errors)["port"])
            else:
                _wait_ready(proc, port, startup_timeout_s, errors)
        except ServerStartError as exc:
            return InfraBlessing(False, [str(exc)], 0, 0, budget=budget)
        startup_s = time.monotonic() - started
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
            client.get("/ping").raise_for_status()
            for i, frame in enumerate(frames):
                t0 = time.perf_counter()
                response = client.post("/invocations", json=_payload(frame))
                if i:  # the first answer warms the server up: checked, but not timed
                    latencies.append((time.perf_counter() - t0) * 1000.0)
                if response.status_code != 200:
                    mismatches += 1
                    reasons.append(f"HTTP {response.status_code}: {response.text[:300]}")
                    continue
                body = response.json()
                ok = _same(model.predict(frame), body.get("predictions"), probabilities=False)
                if model.has_proba and "probabilities" in body:
                    ok = ok and _same(
                        model.predict_proba(frame), body.get("probabilities"), probabilities=True
                    )
                mismatches += not ok
        rss = _rss_mb(proc.pid)
    except httpx.HTTPError as exc:
        reasons.append(f"the model server failed a request: {exc}")
    finally:
        _stop(proc)
        errors.close()
    if mismatches and not reasons:
        reasons.append(
            f"{mismatches} of {len(frames)} answers differ from the in-process predictions"
        )
    elif mismatches:
        reasons.insert(0, f"{mismatches} of {len(frames)} requests failed or differed")
    latencies = latencies or []
    p50 = float(np.percentile(latencies, 50)) if latencies else None
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    if p95 is not None and p95 > max_p95_ms:
        reasons.append(f"p95 latency {p95:.1f} ms is over the budget of {max_p95_ms} ms")
    if rss is not None and rss > max_rss_mb:
        reasons.append(f"server memory {rss:.0f} MB is over the budget of {max_rss_mb} MB")
    return InfraBlessing(
        blessed=not reasons,
        reasons=reasons,
        requests=len(frames) if startup_s is not None else 0,
        mismatches=mismatches,
        startup_s=startup_s,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        rss_mb=rss,
        budget=budget,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server this function started (terminate, then kill after 10 s)."""
    stop_child(proc)
    if proc.stdout is not None:
        proc.stdout.close()


@step(cache=False)
def infra_validate(
    model: ModelPackage,
    samples: Any = None,
    max_rss_mb: float = 1024.0,
    max_p95_ms: float = 250.0,
    single_requests: int = 20,
    server: str = "mloop",
) -> InfraBlessing:
    """Serve ``model`` in a fresh process and check its answers, memory and latency."""
    import mloop

    result = validate_infra(
        model,
        samples,
        max_rss_mb=max_rss_mb,
        max_p95_ms=max_p95_ms,
        single_requests=single_requests,
        server=server,
    )
    mloop.log_metrics(
        {
            k: v
            for k, v in {
                "infra_p50_ms": result.latency_p50_ms,
                "infra_p95_ms": result.latency_p95_ms,
                "infra_rss_mb": result.rss_mb,
                "infra_blessed": float(result.blessed),
            }.items()
            if v is not None
        }
    )
    return result
