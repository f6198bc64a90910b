"""The prediction service as a child process on a free 127.0.0.1 port, for ``mloop loadtest``
when no ``--url`` is given: ``python -m mloop serve MODEL_URI`` started, waited for (``GET
/ping``), and stopped (SIGTERM, then SIGKILL after 10 s) by the one who started it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mloop._utils.processes import stop_child
from mloop.errors import ValidationError

__all__ = ["free_port", "served"]

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    model_uri: str,
    project_dir: Path,
    *,
    workers: int = 1,
    timeout_s: float = STARTUP_TIMEOUT_S,
    environment: str | None = None,
) -> Iterator[str]:
    """Serve ``model_uri`` from ``project_dir`` (its stores; with ``environment``, exactly
    that environment's, as ``mloop --env ENV serve`` loads it) and yield the base URL."""
    import httpx

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mloop",
        "--project-dir",
        str(project_dir),
        "serve",
        model_uri,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-log",
        "--poll-interval",
        "0",
    ]
    child = {**os.environ}
    if environment is not None:
        child["MLOOP_ENV"] = environment
        for key in ("MLOOP_METADATA_URL", "MLOOP_ARTIFACT_ROOT"):  # they override every env
            child.pop(key, None)
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        command, stdout=errors, stderr=errors, stdin=subprocess.DEVNULL, env=child
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                errors.seek(0)
                tail = errors.read().decode(errors="replace").strip()[-500:]
                raise ValidationError(f"mloop serve {model_uri} exited: {tail}")
            try:
                if httpx.get(f"{base}/ping", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ValidationError(f"mloop serve {model_uri} not ready within {timeout_s} s")
            time.sleep(0.1)
        yield base
    finally:
        stop_child(proc)
        errors.close()
