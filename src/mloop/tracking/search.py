"""Searching runs: pages of runs that carry their params and latest metrics, and that say when
more matched than a page holds.

A ``RunPage`` is a list of ``Run`` (each with ``.params`` and ``.metrics``, read with one query
each for the whole page, not one per run) plus ``next_page_token``: pass it back as
``page_token`` for the next page; None on the last page. A search left at the default limit
whose result was cut also warns (``ResultTruncatedWarning``), since a caller who never looks
at the token would otherwise take 100 runs for all of them.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterable, Mapping, Sequence

from mloop.errors import ValidationError
from mloop.metadata.entities import Run, RunState
from mloop.metadata.roles import MetricFilter, RunStore

__all__ = ["DEFAULT_LIMIT", "ResultTruncatedWarning", "RunPage", "search_runs"]

DEFAULT_LIMIT = 100


class ResultTruncatedWarning(UserWarning):
    """A search returned its first page only; more runs matched."""


class RunPage(list[Run]):
    """One page of runs; ``next_page_token`` is None on the last page."""

    def __init__(self, runs: Iterable[Run], next_page_token: str | None) -> None:
        super().__init__(runs)
        self.next_page_token = next_page_token

    @property
    def truncated(self) -> bool:
        """True when more runs matched than this page holds."""
        return self.next_page_token is not None


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            f"page_token {token!r} is not a token search_runs gave; pass next_page_token as is"
        ) from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"page_token {token!r} is not a token search_runs gave")
    return offset


def search_runs(
    store: RunStore,
    *,
    experiment: str | None = None,
    pipeline_name: str | None = None,
    states: Sequence[RunState | str] | None = None,
    metric_filters: Sequence[MetricFilter] = (),
    order_by: str = "started_at",
    descending: bool = True,
    limit: int | None = None,
    page_token: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> RunPage:
    """One page of runs (``limit``, default 100) matching every filter (``tags``: each tag
    with exactly this value), newest first by default, each with its params and latest
    metrics."""
    size = DEFAULT_LIMIT if limit is None else int(limit)
    if size < 1:
        raise ValidationError(f"limit must be at least 1, got {limit}")
    offset = _decode(page_token) if page_token else 0
    found = store.search_runs(
        experiment=experiment,
        pipeline_name=pipeline_name,
        states=[RunState(s) for s in states] if states else None,
        metric_filters=metric_filters,
        order_by=order_by,
        descending=descending,
        limit=size + 1,  # one more tells whether another page exists
        offset=offset,
        include_data=True,
        tags=tags,
    )
    more = len(found) > size
    page = RunPage(found[:size], _encode(offset + size) if more else None)
    if more and limit is None and page_token is None:
        warnings.warn(
            f"search_runs returned the first {size} runs; more matched. Pass limit= or follow "
            "next_page_token for the rest",
            ResultTruncatedWarning,
            stacklevel=3,
        )
    return page
