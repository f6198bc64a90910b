"""The offline store contract: point-in-time joins, latest rows per entity, the push log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from mloop.features.definitions import FeatureView
    from mloop.features.retrieval import ViewRequest


class OfflineStore(ABC):
    """Reads feature sources (plus rows pushed through :meth:`append_log`)."""

    @abstractmethod
    def get_historical_features(
        self, entity_rows: pa.Table, event_timestamp_column: str, requests: Sequence[ViewRequest]
    ) -> pa.Table:
        """The entity rows (same order) with the requested features joined point-in-time."""

    @abstractmethod
    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.Table:
        """Each entity's newest row with start <= event time <= end: columns join keys,
        ``__mloop_ts`` (UTC), ``__mloop_created`` and the view's features."""

    @abstractmethod
    def append_log(self, view: FeatureView, rows: pa.Table) -> str:
        """Append pushed rows to the view's offline log (atomically); returns the file written."""
