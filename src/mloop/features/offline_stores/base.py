"""The offline store contract: point-in-time joins, latest rows per entity, the push log.

Backends are the ``offline_stores`` kind of :mod:`mloop.plugins` (built-in: ``duckdb``), chosen
in mloop.yaml with ``features: {offline_store: {type: duckdb}}``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pyarrow as pa

    from mloop.features.definitions import FeatureView
    from mloop.features.retrieval import ViewRequest


class OfflineStore(ABC):
    """Reads feature sources (plus rows pushed through :meth:`append_log`). Construct with
    ``from_config(config, repo_path)``, ``config`` an instance of the backend's pydantic
    ``Config`` (``type: Literal[name]``); constructors do no I/O."""

    name: ClassVar[str]
    Config: ClassVar[type[Any]]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, repo_path: Path) -> OfflineStore:
        """The store of the feature repository at ``repo_path`` (relative paths in ``config``
        are relative to it)."""

    @abstractmethod
    def get_historical_features(
        self, entity_rows: pa.Table, event_timestamp_column: str, requests: Sequence[ViewRequest]
    ) -> pa.Table:
        """The entity rows (same order) with the requested features joined point-in-time."""

    @abstractmethod
    def pull_latest(
        self,
        view: FeatureView,
        start: datetime,
        end: datetime,
        *,
        created_after: datetime | None = None,
    ) -> pa.Table:
        """Each entity's newest row (by event time, then created time) with start <= event
        time <= end, or, when ``created_after`` is given, with event time <= end and created
        time > ``created_after`` (late rows). Columns: join keys, ``__mloop_ts`` and
        ``__mloop_created`` (UTC, timestamp[us, UTC]; created is null without a created
        column) and the view's features."""

    @abstractmethod
    def sample_entities(self, view: FeatureView, n: int, *, seed: int = 0) -> pa.Table:
        """Up to ``n`` distinct entities (join-key columns) of the view's rows, sampled
        uniformly (reproducibly for a ``seed``): what ``audit`` checks."""

    @abstractmethod
    def append_log(self, view: FeatureView, rows: pa.Table) -> str:
        """Append pushed rows to the view's offline log (atomically); returns the file written."""
