"""Which request ids this service answered: ``/feedback`` refuses labels for any other id.

Labels for an id that was never answered (a typo, the client's own id of a failed request, an
id from another service) would never join a prediction, so live metrics would silently stay
empty; refusing them with the ids tells the client at once. An id is known when it is one the
service signed (:mod:`mloop.serving.logs.request_ids`), one this worker answered lately (callers'
own ids, kept in a bounded memory), or one the prediction log on disk holds (callers' own ids
answered by another worker or before a restart; ``lookback_days`` of the log are searched).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mloop.serving.logs.request_ids import RequestIds

__all__ = ["ServedIds"]


class ServedIds:
    """Remembers answered ids and finds the unknown ones among a feedback call's ids."""

    def __init__(
        self,
        signer: RequestIds,
        predictions_dir: Path | None,
        *,
        memory: int = 100_000,
        lookback_days: float = 30.0,
    ) -> None:
        self._signer = signer
        self._dir = predictions_dir
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self._memory = memory
        self._lookback = timedelta(days=lookback_days)

    def remember(self, request_id: str) -> None:
        """Record an answered caller-chosen id (signed ones need no memory)."""
        if request_id in self._recent:
            return
        if len(self._order) >= self._memory:
            self._recent.discard(self._order.popleft())
        self._order.append(request_id)
        self._recent.add(request_id)

    def unknown(self, request_ids: Iterable[str]) -> list[str]:
        """The ids among ``request_ids`` that this service never answered (in order)."""
        missing = [
            r
            for r in dict.fromkeys(request_ids)
            if r not in self._recent and not self._signer.issued(r)
        ]
        if missing and self._dir is not None:
            found = self._in_log(missing)
            missing = [r for r in missing if r not in found]
        return missing

    def _in_log(self, wanted: Sequence[str]) -> set[str]:
        """The ids of ``wanted`` found in the prediction log, newest hours first."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        assert self._dir is not None
        oldest = (datetime.now(timezone.utc) - self._lookback).strftime("%Y-%m-%d")
        left, found = set(wanted), set()
        days = sorted(self._dir.glob("*/date=*"), key=lambda p: p.name, reverse=True)
        for day in days:
            if day.name[5:] < oldest:
                continue
            for part in sorted(day.glob("hour=*/part-*.parquet"), reverse=True):
                try:
                    ids = pq.read_table(part, columns=["request_id"]).column("request_id")
                except (OSError, KeyError, ValueError):
                    continue  # a part being written or of another layout: not evidence
                hit = pc.is_in(ids, value_set=pa.array(sorted(left), type=ids.type))
                found |= set(pc.filter(ids, hit).unique().to_pylist())
                left -= found
                if not left:
                    return found
        return found
