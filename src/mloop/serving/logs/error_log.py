"""The request-error log: every failed inference request, beside the prediction log.

The prediction log holds only answered requests, so a service's error rate (failed requests
over all requests) needs the failures too. Each 4xx or 5xx answer of an inference route
(``/v2/models/.../infer``, ``/invocations``) is queued like a prediction (a tuple on a queue,
off the answer's path) and written by the same
:class:`~mloop.serving.logs.prediction_log.ParquetLog` writer to::

    <log_dir>/errors/<model>/date=2026-11-24/hour=22/part-<pid>-<ms>-<token>-<n>.parquet

One row per failed request: ``request_id``, ``timestamp`` (UTC), ``model``, ``version`` (the
version the request was routed to, or the champion's when it failed before routing; empty when
no model was loaded yet), ``route``, ``protocol``, ``status`` (the HTTP status), ``error_code``,
``latency_ms`` and ``message`` (at most :data:`MAX_MESSAGE_CHARS` characters). Monitoring reads
it to compute ``error_rate`` (see docs/monitoring.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MAX_MESSAGE_CHARS", "RequestErrorRecord", "error_rows"]

MAX_MESSAGE_CHARS = 500
"""Longer error messages are cut to this many characters in the log."""


@dataclass(frozen=True)
class RequestErrorRecord:
    """One failed inference request, as queued by the handler."""

    model: str
    version: str
    route: str
    protocol: str
    request_id: str
    timestamp: float  # seconds since the epoch (UTC)
    status: int  # the HTTP status answered
    error_code: str
    latency_ms: float
    message: str


def error_rows(record: RequestErrorRecord) -> tuple[str, float, dict[str, Any]]:
    """The record as one row of columns (the ``to_rows`` of a ``ParquetLog``)."""
    return (
        record.model,
        record.timestamp,
        {
            "request_id": [record.request_id],
            "timestamp": np.array([int(record.timestamp * 1000)], dtype="datetime64[ms]"),
            "model": [record.model],
            "version": [record.version],
            "route": [record.route],
            "protocol": [record.protocol],
            "status": np.array([record.status], dtype=np.int32),
            "error_code": [record.error_code],
            "latency_ms": np.array([record.latency_ms], dtype=np.float64),
            "message": [record.message[:MAX_MESSAGE_CHARS]],
        },
    )
