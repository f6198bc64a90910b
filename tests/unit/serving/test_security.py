from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from mloop.errors import ConfigError
from mloop.serving.http.security import is_loopback, warn_if_exposed
from mloop.serving.settings import parse_canary


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_loopback_addresses(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_exposed_without_token_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mloop.serving"):
        warn_if_exposed("127.0.0.1", None)
        warn_if_exposed("0.0.0.0", "token")
        assert not caplog.records
        warn_if_exposed("0.0.0.0", None)
    assert "without an inference token" in caplog.records[0].getMessage()


def test_serve_binds_loopback_by_default_and_reads_tokens_from_the_environment() -> None:
    from mloop.cli.main import app

    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "127.0.0.1" in out and "MLOOP_SERVE_TOKEN" in out and "MLOOP_SERVE_ADMIN_TOKEN" in out


def test_canary_option_parsing() -> None:
    assert parse_canary("models:/m/4:10") == ("models:/m/4", 10.0)
    for bad in ("models:/m/4", "models:/m/4:150", ":5"):
        with pytest.raises(ConfigError, match="URI:PERCENT"):
            parse_canary(bad)
