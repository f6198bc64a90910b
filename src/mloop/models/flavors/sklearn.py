"""scikit-learn estimators and Pipelines, stored with joblib (the scikit-learn norm).

joblib unpickles, which runs code: ``load_model`` verifies the package's SHA-256 digest before
this flavor is called, so only the exact bytes that were saved (and registered) are unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.models.flavors.base import Flavor, module_of

FILE = "model.joblib"


class SklearnFlavor(Flavor):
    name = "sklearn"
    module = "sklearn"
    distributions = ("scikit-learn", "numpy", "joblib")

    def matches(self, model: Any) -> bool:
        # Any estimator following the scikit-learn API (fit + predict), from any package
        # that has no more specific flavor.
        return module_of(model) == "sklearn" or (
            hasattr(model, "fit") and hasattr(model, "predict") and hasattr(model, "get_params")
        )

    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        import joblib

        joblib.dump(model, folder / FILE, compress=0)
        classes = getattr(model, "classes_", None)
        return {"classes": None if classes is None else [_plain(c) for c in classes]}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        import joblib

        return joblib.load(folder / FILE)

    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        import numpy as np

        return np.asarray(native.predict(frame))

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        import numpy as np

        if not self.has_proba(native, options):
            return None
        return np.asarray(native.predict_proba(frame))

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        try:
            return hasattr(native, "predict_proba")
        except Exception:  # available_if raises AttributeError subclasses; be defensive
            return False


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar from a numpy scalar."""
    return value.item() if hasattr(value, "item") else value
