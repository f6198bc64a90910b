"""Shared fixtures: a fresh project per test, and the real services (skip or fail when absent)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_SERVICES = os.environ.get("MLOOP_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "MLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers inherit COLUMNS=80 / LINES=24 from execnet; the CLI honours an
    # explicit COLUMNS (a user's choice), so the tests would see output cut at 80 columns that
    # a serial run (and a user's pipe) never cuts.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip with a reason when a service is absent; fail instead under MLOOP_REQUIRE_SERVICES=1."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}, and MLOOP_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL with an empty schema of its own, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    from mloop._utils.ids import new_id

    schema = f"t_{new_id()}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the current directory, with no MLOOP_* variables leaking in."""
    for var in [v for v in os.environ if v.startswith("MLOOP_") and v != "MLOOP_REQUIRE_SERVICES"]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def monitoring_kit() -> Any:
    """tests/unit/monitoring/monitored_project.py as a module (a registered model, a prediction
    log written as the service writes it, feedback, failed requests). Tests are imported with
    --import-mode=importlib, so the kit is loaded by path, once."""
    import importlib.util
    import sys

    name = "mloop_tests_monitored_project"
    if name not in sys.modules:
        path = Path(__file__).parent / "unit" / "monitoring" / "monitored_project.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def require_executable(name: str, *, module: str | None = None) -> str:
    """The path of program ``name`` (and, when given, that Python ``module`` imports): skip
    with a reason when absent; fail instead under MLOOP_REQUIRE_SERVICES=1."""
    import importlib.util
    import shutil

    found = shutil.which(name)
    missing = None if found else f"{name} is not on PATH"
    if missing is None and module is not None and importlib.util.find_spec(module) is None:
        missing = f"the Python package {module!r} is not installed"
    if missing is None:
        assert found is not None
        return found
    if REQUIRE_SERVICES:
        pytest.fail(f"{missing}, and MLOOP_REQUIRE_SERVICES=1 requires it")
    pytest.skip(missing)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (``apt-get install chromium``) driven by Playwright."""
    return require_executable("chromium", module="playwright")
