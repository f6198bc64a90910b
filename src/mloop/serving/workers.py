"""Running the service: one uvicorn server per worker process, all on one port.

Each worker binds its own listening socket with ``SO_REUSEPORT`` (the kernel spreads new
connections over them) and ``TCP_NODELAY``, which accepted connections inherit. That avoids
the ~40 ms Nagle/delayed-ACK stall that keep-alive requests suffer when uvicorn's own
multi-worker mode hands a socket to its children (the socket it passes loses TCP_NODELAY on
accepted connections). The parent process only starts the workers, forwards SIGTERM/SIGINT to
them and waits: each worker then finishes its in-flight requests and flushes its prediction
log before it exits.

Each worker closes connections whose request headers do not arrive within the service's
``header_timeout_s`` (:mod:`mloop.serving.http.timeouts`). With several workers, the launcher
also creates the folder of the shared admin state (:mod:`mloop.serving.traffic.admin_state`), so an
admin call that reaches one worker is applied by all.

A model that cannot be found or loaded at start stops the server: the service reports it
(:attr:`PredictionService.on_fatal`), uvicorn shuts down, and :func:`serve_app` raises
:class:`~mloop.errors.ModelLoadError` (the CLI prints it as one line and exits 2). With several
workers, the first worker that fails writes its reason to a status file and exits with
:data:`EXIT_LOAD_FAILED`; the parent stops the other workers and raises that reason once.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from mloop.errors import ConfigError, ModelLoadError
from mloop.serving.http.timeouts import protocol_with_header_timeout
from mloop.serving.traffic import admin_state

__all__ = ["EXIT_LOAD_FAILED", "bind_socket", "run_server", "serve_app"]

log = logging.getLogger("mloop.serving")

EXIT_LOAD_FAILED = 2
"""A worker's exit code when its model could not be loaded (its reason is in a status file)."""


def bind_socket(host: str, port: int, *, reuse_port: bool, listen: bool = True) -> socket.socket:
    """A listening TCP socket with TCP_NODELAY (and SO_REUSEPORT when several bind it);
    ``listen=False`` only reserves the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        if not hasattr(socket, "SO_REUSEPORT"):
            raise ConfigError("several workers need SO_REUSEPORT, which this OS lacks; use 1")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port"
        ) from None
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_app(
    app_factory: Callable[..., Any],
    factory_args: tuple[Any, ...],
    *,
    host: str,
    port: int,
    workers: int = 1,
    log_level: str = "warning",
) -> int:
    """Serve ``app_factory(*factory_args)`` on ``host:port`` with ``workers`` processes.

    The factory and its arguments must be picklable (a module-level function and plain data):
    each worker process builds its own app. Returns the exit code; raises ``ModelLoadError``
    when the model could not be loaded at start.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if workers == 1:
        sock = bind_socket(host, port, reuse_port=False)
        run_server(app_factory, factory_args, sock, log_level)
        return 0
    # Reserve the port (and fail early if it is taken) without accepting on it.
    probe = bind_socket(host, port, reuse_port=True, listen=False)
    port = probe.getsockname()[1]
    metrics_dir = tempfile.mkdtemp(prefix="mloop-metrics-")
    status_dir = tempfile.mkdtemp(prefix="mloop-serve-status-")
    admin_dir = tempfile.mkdtemp(prefix="mloop-serve-admin-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[admin_state.DIR_ENV] = admin_dir  # admin changes reach every worker
    os.environ[admin_state.WORKERS_ENV] = str(workers)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker,
            args=(app_factory, factory_args, host, port, log_level, status_dir),
            name=f"mloop-serve-{i}",
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, frame: Any) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    failure: str | None = None
    try:
        running = list(procs)
        while running:
            multiprocessing.connection.wait([p.sentinel for p in running])
            for proc in [p for p in running if not p.is_alive()]:
                running.remove(proc)
                proc.join()
                # uvicorn re-raises the signal it caught once it has shut down gracefully
                clean = proc.exitcode in (0, -signal.SIGTERM, -signal.SIGINT)
                code = code or (0 if clean else 1)
                if proc.exitcode == EXIT_LOAD_FAILED and failure is None:
                    failure = _read_failure(status_dir)
                    if failure is not None:
                        forward(signal.SIGTERM, None)  # the others cannot serve it either
    finally:
        probe.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(status_dir, ignore_errors=True)
        shutil.rmtree(admin_dir, ignore_errors=True)
        for name in (admin_state.DIR_ENV, admin_state.WORKERS_ENV):
            os.environ.pop(name, None)  # an app built later in this process is on its own
    if failure is not None:
        raise ModelLoadError(failure)
    return code


def _read_failure(status_dir: str) -> str | None:
    """The reason the first failed worker wrote, if any."""
    names = sorted(os.listdir(status_dir))
    if not names:
        return None
    with open(os.path.join(status_dir, names[0]), encoding="utf-8") as f:
        return f.read().strip() or None


def _worker(
    app_factory: Callable[..., Any],
    factory_args: tuple[Any, ...],
    host: str,
    port: int,
    log_level: str,
    status_dir: str,
) -> None:
    sock = bind_socket(host, port, reuse_port=True)
    try:
        run_server(app_factory, factory_args, sock, log_level)
    except ModelLoadError as exc:
        path = os.path.join(status_dir, f"failed-{os.getpid()}")
        with open(f"{path}.tmp", "w", encoding="utf-8") as f:
            f.write(str(exc))
        os.replace(f"{path}.tmp", path)  # the parent never reads half a reason
        sys.exit(EXIT_LOAD_FAILED)


def run_server(
    app_factory: Callable[..., Any],
    factory_args: tuple[Any, ...],
    sock: socket.socket,
    log_level: str,
) -> None:
    """Run uvicorn on an already bound socket until SIGTERM/SIGINT (graceful shutdown), or
    until the app's prediction service reports that its model cannot be loaded
    (``ModelLoadError`` is raised then)."""
    import uvicorn

    app = app_factory(*factory_args)
    service = getattr(getattr(app, "state", None), "service", None)
    header_timeout = service.config.header_timeout_s if service is not None else 0.0
    protocol = protocol_with_header_timeout(header_timeout)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        server_header=False,
        http=protocol or "auto",
    )
    server = uvicorn.Server(config)
    if service is not None:

        def stop(exc: ModelLoadError) -> None:
            server.should_exit = True  # uvicorn checks it every 0.1 s, then shuts down

        service.on_fatal = stop
    server.run(sockets=[sock])
    fatal = getattr(service, "fatal", None)
    if fatal is not None:
        raise fatal
