"""Posting alerts as JSON to a webhook (Slack-, PagerDuty- or anything-compatible relay).

Standard library only (no client dependency); a bounded number of attempts with a short
timeout, so a dead webhook slows a monitoring job by seconds at most and never fails it.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["post_json"]

log = logging.getLogger("mloop.monitoring")


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float = 5.0,
    attempts: int = 3,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """POST ``payload`` as JSON; True when the webhook answered 2xx within ``attempts`` tries
    (``timeout_s`` seconds each, 0.2 s, 0.4 s... apart)."""
    body = json.dumps(payload, default=str).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "User-Agent": "mloop-monitoring"}
    all_headers.update(headers or {})
    for attempt in range(max(1, attempts)):
        request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    return True
                log.warning("webhook %s answered %s", url, response.status)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("webhook %s failed (attempt %d): %s", url, attempt + 1, exc)
        if attempt + 1 < attempts:
            time.sleep(0.2 * 2**attempt)
    return False
