"""Prometheus metrics of the prediction service, served on ``GET /metrics``.

``mloop_requests_total`` (by model, version, route, protocol, status), the request latency
histogram (seconds), the batch size histogram (rows), ``mloop_model_info`` (1 for each loaded
model version and its role) and ``mloop_errors_total`` by error code
(``mloop_client_aborts_total`` counts clients that went away mid-request, apart). With several
worker processes, ``PROMETHEUS_MULTIPROC_DIR`` is set by the launcher and ``/metrics``
aggregates the workers' files.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The service's metrics on a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = self.registry
        self.requests = Counter(
            "mloop_requests",
            "Prediction requests answered.",
            ["model", "version", "route", "protocol", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "mloop_request_latency_seconds",
            "Time from request received to answer ready (seconds).",
            ["model", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_rows = Histogram(
            "mloop_batch_size_rows",
            "Rows per model call (micro-batches).",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        self.model_info = Gauge(
            "mloop_model_info",
            "1 for each model version loaded, by role (champion, canary, shadow).",
            ["model", "version", "digest", "role"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.errors = Counter(
            "mloop_errors",
            "Error answers by error code.",
            ["error_code", "protocol"],
            registry=reg,
        )
        self.client_aborts = Counter(
            "mloop_client_aborts",
            "Requests whose client closed the connection before its body was complete "
            "(not errors of the service).",
            ["protocol"],
            registry=reg,
        )
        self.rows = Counter(
            "mloop_predicted_rows", "Rows predicted.", ["model", "version", "route"], registry=reg
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(
        self,
        *,
        model: str,
        version: str,
        route: str,
        protocol: str,
        status: int,
        seconds: float,
        rows: int,
    ) -> None:
        labels = (model, version, route, protocol, str(status))
        self._child(self.requests, labels).inc()
        self._child(self.latency, (model, protocol)).observe(seconds)
        if rows:
            self._child(self.rows, (model, version, route)).inc(rows)

    def observe_error(self, code: str, protocol: str) -> None:
        self._child(self.errors, (code, protocol)).inc()

    def observe_client_abort(self, protocol: str) -> None:
        self._child(self.client_aborts, (protocol,)).inc()

    def observe_batch(self, model: str, version: str, rows: int) -> None:
        self._child(self.batch_rows, (model, version)).observe(rows)

    def set_model(self, model: str, version: str, digest: str, role: str, loaded: bool) -> None:
        self.model_info.labels(model, version, digest[:12], role).set(1 if loaded else 0)

    def render(self) -> bytes:
        """The text exposition of every metric (aggregated over workers when there are several)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
