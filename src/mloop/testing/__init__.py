"""mloop.testing: public test helpers and the backend contract suites.

Every kind of the backend table (:data:`mloop.plugins.BUILTINS`) has a contract suite here
(``SUITES``); a backend's tests subclass it with ``__test__ = True`` and ``backend = (kind,
name)``, so a third-party backend runs the very tests the built-ins run (tests/contracts/).
"""

from __future__ import annotations

__all__ = ["SUITES"]

SUITES: dict[str, str] = {
    "metadata_stores": "mloop.testing.contracts:MetadataStoreContract",
    "artifact_stores": "mloop.testing.artifact_contracts:ArtifactStoreContract",
    "runners": "mloop.testing.contracts:RunnerContract",
    "online_stores": "mloop.testing.online_store_contracts:OnlineStoreContract",
    "offline_stores": "mloop.testing.offline_store_contracts:OfflineStoreContract",
    "model_flavors": "mloop.testing.flavor_contracts:FlavorContract",
    "materializers": "mloop.testing.materializer_contracts:MaterializerContract",
}
"""The contract suite of each backend kind, as ``"module:Class"`` (imported when used)."""
