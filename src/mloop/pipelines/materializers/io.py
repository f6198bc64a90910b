"""Store a Python value as an artifact, and load it back, through a materializer.

``store_value`` stages, saves, then publishes: the artifact appears whole at ``uri`` or not at
all, and on any error the staging folder is removed. ``load_value`` verifies the digest before a
single byte is deserialized.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

from mloop.artifacts.base import ArtifactStore
from mloop.pipelines.materializers.base import Materializer, UnsupportedValueError
from mloop.pipelines.materializers.registry import (
    PICKLE_NAME,
    materializer_by_name,
    materializer_for,
)

__all__ = ["StoredValue", "load_value", "store_value"]


@dataclass(frozen=True)
class StoredValue:
    """A published value: ``uri`` (relative to the store), SHA-256 ``digest``, ``size`` in bytes,
    the ``materializer`` name and ``version`` that wrote it, its ``artifact_type`` and
    ``properties`` (what the materializer reported: rows, schema, dtype, ...)."""

    uri: str
    digest: str
    size: int
    materializer: str
    version: int
    artifact_type: str
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def materializer_version(self) -> int:
        """Alias of :attr:`version`."""
        return self.version


def _save_published(
    value: Any, store: ArtifactStore, uri: str, materializer: Materializer
) -> StoredValue:
    staging = store.new_staging_dir()
    try:
        properties = materializer.save(value, staging)
        obj = store.put_dir(staging, uri)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StoredValue(
        uri=obj.uri,
        digest=obj.digest,
        size=obj.size,
        materializer=materializer.name,
        version=materializer.version,
        artifact_type=materializer.artifact_type,
        properties=dict(properties or {}),
    )


def store_value(
    value: Any,
    store: ArtifactStore,
    uri: str,
    *,
    allow_pickle: bool = False,
    materializer: Materializer | str | None = None,
) -> StoredValue:
    """Save ``value`` with its materializer (or the one given, by instance or name) and publish
    it at ``uri``.

    When the type's materializer turns this particular value down (a dict with int keys for
    JSON) and ``allow_pickle`` is true, the value is pickled instead.

    Raises:
        ValidationError: no materializer fits and pickle is not allowed.
        StoreError: ``uri`` is taken (``UnsafePathError`` when it leaves the store's root).
    """
    if isinstance(materializer, str):
        chosen = materializer_by_name(materializer)
    elif materializer is None:
        chosen = materializer_for(value, allow_pickle=allow_pickle)
    else:
        chosen = materializer
    try:
        return _save_published(value, store, uri, chosen)
    except UnsupportedValueError:
        if not allow_pickle or chosen.name == PICKLE_NAME:
            raise
    return _save_published(value, store, uri, materializer_by_name(PICKLE_NAME))


def load_value(
    store: ArtifactStore, uri: str, materializer_name: str | None, *, digest: str | None = None
) -> Any:
    """Load the value at ``uri`` with the materializer recorded as ``materializer_name``,
    after checking the bytes against ``digest`` when given.

    Raises:
        ArtifactNotFoundError: nothing is published at ``uri``.
        IntegrityError: the bytes do not match ``digest``.
        ValidationError: no materializer is registered as ``materializer_name`` (or the
            artifact records none: a file a step read, a log, not a step's value).
    """
    if not materializer_name:
        from mloop.errors import ValidationError

        raise ValidationError(
            f"the artifact at {uri} records no materializer, so it is not a value mloop can "
            "load (a file a step read, or a log); copy it out with `mloop artifacts get`"
        )
    materializer = materializer_by_name(materializer_name)
    with store.open_local(uri, digest=digest) as folder:
        return materializer.load(folder)
