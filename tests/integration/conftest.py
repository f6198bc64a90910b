"""Session fixtures of the scale-out tests: an S3 endpoint (moto's server on 127.0.0.1) and a
real local Ray cluster (a head and a worker node, started and stopped here).

Both skip with a reason when their packages are missing (``pip install -e .[ray,s3]``), and fail
instead under ``MLOOP_REQUIRE_SERVICES=1``. The cluster is sized for a shared 2-core machine:
one CPU and 100 MB of object store per node. S3 credentials are dummies; the endpoint reaches
every process (the Ray nodes too) through ``AWS_ENDPOINT_URL_S3``, set before the nodes start.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("MLOOP_REQUIRE_SERVICES") == "1"
S3_BUCKET = "mloop-test"
OBJECT_STORE_BYTES = 100 * 1024**2  # per node
CLUSTER_START_S = 90.0  # give up waiting for both nodes after this many seconds


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (pip install -e '.[ray,s3]')"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}, and MLOOP_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto S3 server with the bucket ``mloop-test``; the AWS
    variables of this process point at it (and are restored afterwards)."""
    _need("moto", "s3fs", "flask")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        import fsspec

        fsspec.filesystem("s3", skip_instance_cache=True).mkdir(S3_BUCKET)
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def s3_root(s3_endpoint: str) -> str:
    """A fresh ``s3://`` artifact root of its own in the test bucket."""
    from mloop._utils.ids import new_id

    return f"s3://{S3_BUCKET}/t-{new_id()}"


@dataclass
class RayCluster:
    """A running head + worker; ``address`` is what ``ray.init(address=...)`` takes."""

    address: str
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    temp_dir: str


def _ray_start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    with open(log, "wb") as out:
        # Its own session: stopping the group stops exactly the processes this node started.
        return subprocess.Popen(
            [ray_bin, "start", "--block", "--disable-usage-stats", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _node_ports() -> list[str]:
    return [
        "--node-ip-address",
        "127.0.0.1",
        "--num-cpus",
        "1",
        "--object-store-memory",
        str(OBJECT_STORE_BYTES),
        "--node-manager-port",
        str(free_port()),
        "--object-manager-port",
        str(free_port()),
        "--dashboard-agent-listen-port",
        str(free_port()),
        "--dashboard-agent-grpc-port",
        str(free_port()),
        "--metrics-export-port",
        str(free_port()),
        "--runtime-env-agent-port",
        str(free_port()),
    ]


@pytest.fixture(scope="session")
def ray_cluster(s3_endpoint: str) -> Iterator[RayCluster]:
    """A Ray head and one worker node on 127.0.0.1 (1 CPU each), this process connected as a
    driver. Started once per session; both nodes stopped (only them) at the end."""
    _need("ray")
    import ray

    if ray.is_initialized():
        ray.shutdown()
    # A loopback-only test cluster: no token (Ray's token file is per user, shared with
    # whatever else runs Ray on this machine). Restored at the end.
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray puts sockets in it
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = _ray_start(
        [
            "--head",
            "--port",
            str(port),
            "--include-dashboard",
            "false",
            "--ray-client-server-port",
            str(free_port()),
            "--temp-dir",
            temp_dir,
            *_node_ports(),
        ],
        Path(temp_dir) / "head.log",
    )
    worker = None
    try:
        deadline = time.monotonic() + CLUSTER_START_S
        while not _port_open(port):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the Ray head did not start: {(Path(temp_dir) / 'head.log').read_text()}"
                )
            time.sleep(0.2)
        worker = _ray_start(["--address", address, *_node_ports()], Path(temp_dir) / "worker.log")
        ray.init(
            address=address,
            namespace="mloop-tests",
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
        while len([n for n in ray.nodes() if n.get("Alive")]) < 2:
            if worker.poll() is not None or time.monotonic() > deadline:
                log = (Path(temp_dir) / "worker.log").read_text()
                pytest.fail(f"the Ray worker node did not join: {log}")
            time.sleep(0.2)
        yield RayCluster(address, head, worker, temp_dir)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if worker is not None:
            _stop(worker)
        _stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
