"""Entity-keyed requests: the model's feature columns fetched from the online feature store.

A service started with ``features`` (a feature service name, or ``view:feature`` references)
and ``entity_keys`` accepts requests that carry only the entity keys (and any inputs the store
does not hold, such as request-time values). The missing signature columns are read from the
online store with the same definitions used to build the training set, then the whole row is
checked against the signature like any other request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mloop.errors import InputSchemaError
from mloop.serving.signature_check import InputSpec

__all__ = ["OnlineFeatures"]


class OnlineFeatures:
    """Fills missing signature columns from the online store, keyed by ``entity_keys``."""

    def __init__(
        self,
        features: str | Sequence[str],
        entity_keys: Sequence[str],
        *,
        repo_path: Path | None = None,
        store: Any = None,
    ) -> None:
        self.features: Any = features
        if isinstance(features, str) and ":" in features:
            self.features = [f.strip() for f in features.split(",") if f.strip()]
        self.entity_keys = tuple(entity_keys)
        self.repo_path = repo_path
        self._store = store

    @property
    def store(self) -> Any:
        if self._store is None:
            from mloop.features import FeatureStore

            self._store = FeatureStore(repo_path=self.repo_path or ".")
        return self._store

    def needed(self, spec: InputSpec, columns: Mapping[str, Any]) -> bool:
        """True when the request lacks signature columns and carries the entity keys."""
        return any(n not in columns for n in spec.names) and all(
            k in columns for k in self.entity_keys
        )

    def enrich(self, spec: InputSpec, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The request's columns plus the missing features; entity keys that are not model
        inputs are dropped. Blocking (it reads the store): call it from a thread."""
        keys = {k: list(columns[k]) for k in self.entity_keys}
        lengths = {len(v) for v in keys.values()}
        if len(lengths) != 1:
            raise InputSchemaError(self.entity_keys[0], "entity keys must have one value per row")
        # The other request columns travel with the keys as request data (as in Feast's entity
        # rows): on-demand views compute from them, e.g. the hour of a departure.
        request_data = {
            k: list(v)
            for k, v in columns.items()
            if k not in keys and len(v) == next(iter(lengths))
        }
        response = self.store.get_online_features(self.features, {**keys, **request_data})
        response = response.to_dict()
        out = {k: v for k, v in columns.items() if k in spec.kinds}
        for name in spec.names:
            if name in out:
                continue
            if name not in response:
                raise InputSchemaError(
                    name, "is missing from the request and is not one of the served features"
                )
            values = response[name]
            missing = [i for i, v in enumerate(values) if v is None]
            if missing and spec.kinds[name] != "float":
                row = {k: keys[k][missing[0]] for k in self.entity_keys}
                raise InputSchemaError(
                    name, f"has no online value for entity {row}; materialize the feature view"
                )
            out[name] = values
        return out
