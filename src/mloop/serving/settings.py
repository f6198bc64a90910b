"""What one prediction service is told at start: the model, its limits, tokens and traffic.

A plain dataclass, picklable, so that ``mloop serve --workers N`` hands the same settings to each
worker process, which builds its own app from them (:func:`mloop.serving.http.app.create_app`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from mloop.errors import ConfigError

__all__ = ["DEFAULT_BATCH_ROWS", "ServingConfig", "TrafficSplit", "parse_canary"]

DEFAULT_BATCH_ROWS = 1024
"""Default row budget of one model call: large enough that 64-row requests are batched."""


@dataclass(frozen=True)
class TrafficSplit:
    """A challenger next to the champion: ``canary_percent`` (0-100) of the requests go to
    ``canary_uri``; ``shadow_uri`` sees a copy of every request while the champion answers."""

    canary_uri: str | None = None
    canary_percent: float = 0.0
    shadow_uri: str | None = None


@dataclass(frozen=True)
class ServingConfig:
    """Settings of one prediction service.

    ``max_batch_size`` is the row budget of one model call (1 turns micro-batching off):
    requests are batched while their rows fit in it, so 64-row requests are batched too; a
    request of that many rows or more is predicted alone. ``max_wait_ms`` is how long a batch
    may wait for company, and only while the service is busy (an idle service never waits).
    ``max_queue`` > 0 bounds the requests one worker holds at once (being read, waiting for or
    in a batch): beyond it a request gets 503 ``overloaded`` with ``Retry-After`` at once, so
    queueing cannot grow the latency of the accepted ones without bound (0: no bound).
    ``header_timeout_s`` and ``body_timeout_s`` close a connection whose request headers, or
    answer 408 to a request whose body, did not arrive in time (slow clients cannot hold a
    worker's connections). ``max_body_bytes`` caps a request body. ``poll_interval_s`` is how
    often an alias (``models:/name@alias``) is re-read from the registry (0: never).
    ``log_dir`` receives the prediction, feedback and request-error logs (None: no log).
    ``features`` (a feature service name or ``view:feature`` references) with
    ``entity_keys`` lets requests carry only entity keys; the missing inputs come from the
    online store of ``feature_repo`` (default: the cwd).
    """

    model_uri: str
    max_batch_size: int = DEFAULT_BATCH_ROWS
    max_wait_ms: float = 2.0
    max_body_bytes: int = 10 * 1024 * 1024
    token: str | None = None
    admin_token: str | None = None
    traffic: TrafficSplit = field(default_factory=TrafficSplit)
    log_dir: Path | None = None
    log_flush_rows: int = 10_000
    log_flush_interval_s: float = 1.0
    poll_interval_s: float = 5.0
    allow_nan: bool = False
    features: str | None = None
    entity_keys: tuple[str, ...] = ()
    feature_repo: Path | None = None
    max_queue: int = 0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    public_metadata: bool = False
    """With an inference token: also leave ``/metrics``, ``/openapi.json`` and the model
    metadata routes open (by default they need the token too; without a token all is open)."""
    wait_until_ready_s: float = 0.0
    """> 0: startup waits (up to this many seconds) for the champion to load before the
    service takes requests, which queue meanwhile; 0: start at once, answering 503 until ready."""
    url: str | None = None
    """The URL this service announces in its project's metadata store, where it reports what
    it serves and each traffic change (serving/presence.py); None: it announces nothing."""

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1 row, got {self.max_batch_size}")
        if self.max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if self.max_queue < 0:
            raise ConfigError(f"max_queue must be >= 0 (0: no bound), got {self.max_queue}")
        if self.header_timeout_s < 0 or self.body_timeout_s < 0:
            raise ConfigError("header and body timeouts must be >= 0 s (0: none)")
        pct = self.traffic.canary_percent
        if not 0.0 <= pct <= 100.0:
            raise ConfigError(f"canary percentage must be within 0-100, got {pct}")

    def with_traffic(self, traffic: TrafficSplit) -> ServingConfig:
        return replace(self, traffic=traffic)


def parse_canary(text: str) -> tuple[str, float]:
    """``URI:PCT`` (``models:/lending/4:10``) -> (uri, percent)."""
    uri, sep, pct = text.rpartition(":")
    try:
        value = float(pct)
    except ValueError:
        value = -1.0
    if not sep or not uri or not 0.0 <= value <= 100.0:
        raise ConfigError(
            f"--canary {text!r}: expected URI:PERCENT with a percentage within 0-100, "
            "e.g. models:/lending/4:10"
        )
    return uri, value
