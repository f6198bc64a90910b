"""The contract for keeping feature-store definitions in the metadata store.

``mloop.features`` stores every applied Entity, FeatureView, FeatureService and on-demand view
here as a JSON spec with a version number per ``(kind, name)``; a new version is written only
when the spec's digest changes. Training sets link to the view versions they read through
``link_inputs`` so that lineage answers "which features fed this model".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FeatureDefinition:
    """One stored version of a definition; ``change`` says what moved since the last version,
    and ``forced`` marks an incompatible change applied on purpose."""

    kind: str
    name: str
    version: int
    digest: str
    spec: dict[str, Any]
    created_at: datetime
    forced: bool = False
    change: str | None = None

    @property
    def artifact_id(self) -> str:
        """The id of the ``FeatureView``-type artifact that stands for this version in lineage."""
        return f"feature-{self.kind}-{self.name}-v{self.version}"[:64]


class FeatureDefinitionStore(ABC):
    """Versioned definitions; every method is one transaction."""

    @abstractmethod
    def record(
        self,
        kind: str,
        name: str,
        digest: str,
        spec: Mapping[str, Any],
        *,
        forced: bool = False,
        change: str | None = None,
    ) -> FeatureDefinition:
        """Store ``spec`` as the next version of ``(kind, name)``; returns the latest stored
        version unchanged when its digest equals ``digest`` (apply is idempotent)."""

    @abstractmethod
    def latest(self, kind: str | None = None) -> list[FeatureDefinition]:
        """The newest version of every definition (of one kind), ordered by kind and name."""

    def generation(self) -> object:
        """A value that changes whenever a definition is recorded (by any process), cheap to
        read: long-lived readers compare it to know when their derived plans are stale. This
        default reads every newest version; a store should answer from one small query."""
        return tuple((d.kind, d.name, d.version) for d in self.latest())

    @abstractmethod
    def history(self, kind: str, name: str) -> list[FeatureDefinition]:
        """Every version of one definition, oldest first (empty when unknown)."""

    @abstractmethod
    def link_inputs(self, execution_id: str, definitions: list[FeatureDefinition]) -> None:
        """Record ``definitions`` as INPUT artifacts of an execution (type ``FeatureView``)."""
