"""The flavor contract: how one model library's objects are saved, loaded and called.

A flavor is stateless. ``name`` is recorded in the manifest and is how a package is loaded again,
so it never changes. Flavors import their library inside methods only, so listing them is cheap
and a package of one flavor never needs another flavor's library.
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Flavor", "installed_version", "module_of"]


def module_of(obj: Any) -> str:
    """The top-level package that defines ``obj``'s class (``sklearn``, ``lightgbm``, ...)."""
    return type(obj).__module__.split(".", 1)[0]


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


class Flavor(ABC):
    """Saves models of one library into a folder, loads them back, and predicts."""

    name: ClassVar[str]
    module: ClassVar[str]  # the import name of the library, e.g. "sklearn"
    distributions: ClassVar[tuple[str, ...]]  # pip names whose versions the package records
    extra: ClassVar[str | None] = None  # the mloop extra that installs the library

    @abstractmethod
    def matches(self, model: Any) -> bool:
        """True when this flavor can save ``model`` (checked without importing libraries)."""

    @abstractmethod
    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        """Write ``model`` into the empty ``folder``; return options the loader needs."""

    @abstractmethod
    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """The native model from a folder whose digest was already verified."""

    @abstractmethod
    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        """Predictions (labels for classifiers, values for regressors) as a numpy array."""

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        """Class probabilities ``(n, classes)`` as a numpy array, or None when the model has
        none."""
        return None

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        return False

    def libraries(self) -> dict[str, str]:
        """Installed versions of this flavor's distributions (missing ones are left out)."""
        found = {d: installed_version(d) for d in self.distributions}
        return {d: v for d, v in found.items() if v is not None}
