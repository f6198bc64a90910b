"""The opt-in fallback: any picklable value, with cloudpickle when it is installed.

Never chosen by type: only ``materializer_for(value, allow_pickle=True)`` (``@step(allow_pickle=
True)``) reaches it, because unpickling runs code and pickles break across library versions.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Any

from mloop.pipelines.materializers.base import Materializer, type_names

__all__ = ["PickleMaterializer"]


def _pickler() -> tuple[str, Any]:
    if importlib.util.find_spec("cloudpickle") is not None:
        import cloudpickle

        return "cloudpickle", cloudpickle
    return "pickle", pickle


class PickleMaterializer(Materializer):
    """Any picklable value -> ``value.pkl`` (protocol 5)."""

    name = "pickle"
    version = 1
    artifact_type = "Object"
    types = ()

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Pickle ``value``; properties: ``python_type`` and the ``pickler`` used."""
        pickler_name, module = _pickler()
        with open(folder / "value.pkl", "wb") as f:
            module.dump(value, f, protocol=5)
        return {"python_type": type_names(type(value))[0], "pickler": pickler_name}

    def load(self, folder: Path) -> Any:
        """Unpickle ``value.pkl`` (only load artifacts from stores you trust)."""
        with open(folder / "value.pkl", "rb") as f:
            return pickle.load(f)  # cloudpickle output is read by the standard unpickler
