"""``POST /feedback``: ground-truth labels, joined to predictions later by request id.

Body: ``{"request_id": "...", "label": x}`` for a one-row request, ``{"request_id": "...",
"labels": [x, y, ...]}`` for one label per row, or a list of such objects. Labels are appended
to ``<log_dir>/feedback/<model>/date=.../hour=.../`` Parquet files (columns ``request_id``,
``row``, ``label``, ``timestamp``) by the same off-the-hot-path writer as the prediction log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mloop.errors import InputSchemaError, RequestParseError

__all__ = ["FeedbackRecord", "feedback_rows", "parse_feedback"]


@dataclass(frozen=True)
class FeedbackRecord:
    """Labels for the rows of one earlier request."""

    model: str
    request_id: str
    labels: list[Any]
    timestamp: float  # seconds since the epoch (UTC)


def parse_feedback(body: bytes, model: str) -> list[FeedbackRecord]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestParseError(f"the body is not valid JSON: {exc}") from None
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise InputSchemaError("body", "holds no feedback; send {'request_id': ..., 'label': ...}")
    now = time.time()
    out = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(doc, list) else ""
        if not isinstance(item, dict):
            raise InputSchemaError(f"body{where}", "must be an object with request_id and label")
        rid = item.get("request_id")
        if not isinstance(rid, str) or not rid or len(rid) > 200:
            raise InputSchemaError(f"request_id{where}", "must be a non-empty string")
        if ("label" in item) == ("labels" in item):
            raise InputSchemaError(f"label{where}", "give exactly one of 'label' and 'labels'")
        labels = item["labels"] if "labels" in item else [item["label"]]
        if not isinstance(labels, list) or not labels:
            raise InputSchemaError(f"labels{where}", "must be a non-empty list, one per row")
        for label in labels:
            if label is not None and not isinstance(label, (str, int, float, bool)):
                raise InputSchemaError(f"labels{where}", "must be numbers, strings or booleans")
        unknown = [k for k in item if k not in ("request_id", "label", "labels")]
        if unknown:
            raise InputSchemaError(f"{unknown[0]}{where}", "is not a feedback field")
        out.append(FeedbackRecord(model, rid, labels, now))
    return out


def feedback_rows(record: FeedbackRecord) -> tuple[str, float, dict[str, Any]]:
    n = len(record.labels)
    return (
        record.model,
        record.timestamp,
        {
            "request_id": [record.request_id] * n,
            "row": np.arange(n, dtype=np.int32),
            "label": list(record.labels),
            "timestamp": np.full(n, int(record.timestamp * 1000), dtype="datetime64[ms]"),
        },
    )
