"""The online store contract: the newest row per (view, entity key), and a watermark per view.

Rows are written in batches; a stored row is replaced only by one whose event time is the same
or later, so replaying a materialization, or materializing an old window after a push, never
moves a value back in time. ``write_batch(..., watermark=)`` advances the view's watermark only
once every row of the batch is stored (one transaction, or MULTI/EXEC), so a crash leaves the
old watermark and the next ``materialize_incremental`` redoes the window: restartable and
idempotent. Times are float seconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import orjson


class OnlineRows:
    """A batch for one view: entity keys, event times, and each row's feature values.

    Backends take the values JSON-encoded, either as one object per row
    (:meth:`json_objects`) or one string per value (:meth:`json_fields`). Rows built from Python
    values (``values[i]`` in ``feature_names`` order) are encoded with orjson on demand;
    materialization passes ``encoder``, a function that produces either form in bulk (DuckDB),
    so no per-row Python work is done for a large batch.
    """

    def __init__(
        self,
        feature_names: Sequence[str],
        entity_keys: Sequence[str],
        event_ts: Sequence[float],
        values: Sequence[Sequence[Any]] | None = None,
        *,
        encoder: Callable[[str], list[Any]] | None = None,
    ) -> None:
        if values is None and encoder is None:
            raise ValueError("OnlineRows needs values or an encoder")
        self.feature_names = list(feature_names)
        self.entity_keys = entity_keys
        self.event_ts = event_ts
        self.values = values
        self._encoder = encoder

    def __len__(self) -> int:
        return len(self.entity_keys)

    def json_objects(self) -> list[str]:
        """Per row, a JSON object ``{feature: value}``."""
        if self._encoder is not None:
            return self._encoder("objects")
        names, dumps = self.feature_names, orjson.dumps
        return [dumps(dict(zip(names, v, strict=True))).decode() for v in self.values or ()]

    def json_fields(self) -> list[Sequence[str]]:
        """Per row, each value as JSON text, in ``feature_names`` order."""
        if self._encoder is not None:
            return self._encoder("fields")
        dumps = orjson.dumps
        return [[dumps(x).decode() for x in v] for v in self.values or ()]


StoredRow = tuple[list[Any], float]
"""What a read returns for a stored key: (values in the requested order, event time in s)."""


def encode_entity_key(values: Sequence[Any]) -> str:
    """The storage key of one entity: its join-key values, already coerced to their dtypes."""
    if len(values) == 1:
        return str(values[0])
    return "\x1f".join(str(v) for v in values)


class OnlineStore(ABC):
    """Latest feature values per entity. Construct with the backend's ``from_config(config,
    base_dir)``, ``config`` an instance of its pydantic ``Config`` (``type: Literal[name]``)."""

    name: ClassVar[str]
    Config: ClassVar[type[Any]]

    @abstractmethod
    def write_batch(self, view: str, rows: OnlineRows, *, watermark: float | None = None) -> int:
        """Store ``rows`` (older-than-stored rows are skipped); if ``watermark`` is given, set the
        view's watermark to it in the same atomic unit. Returns the number of rows offered."""

    @abstractmethod
    def read(
        self, view: str, entity_keys: Sequence[str], features: Sequence[str]
    ) -> list[StoredRow | None]:
        """One entry per key, in order: the stored values of ``features`` (None for a feature
        the row lacks) and the row's event time, or None when the key is not stored."""

    def read_views(
        self, requests: Sequence[tuple[str, Sequence[str], Sequence[str]]]
    ) -> list[list[StoredRow | None]]:
        """Several :meth:`read` calls, ``(view, entity_keys, features)`` each, answered in
        order. A backend that can answer them in one round trip (Redis: one pipeline)
        overrides this; the default reads one view after the other."""
        return [self.read(view, keys, features) for view, keys, features in requests]

    @abstractmethod
    def get_watermark(self, view: str) -> float | None:
        """The end (epoch seconds) of the last completed materialization of ``view``."""

    @abstractmethod
    def delete_view(self, view: str) -> None:
        """Remove every row and the watermark of ``view``."""

    @abstractmethod
    def close(self) -> None: ...
