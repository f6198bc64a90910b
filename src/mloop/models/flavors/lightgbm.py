"""LightGBM models (``LGBMClassifier``/``LGBMRegressor`` or a ``Booster``), stored in LightGBM's
own text format: no pickle. The scikit-learn wrapper is not restored; the flavor reproduces its
``predict`` and ``predict_proba`` from the booster and the recorded classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.models.flavors.base import Flavor, module_of
from mloop.models.flavors.sklearn import _plain

FILE = "model.lgb.txt"


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    module = "lightgbm"
    distributions = ("lightgbm", "numpy")

    def matches(self, model: Any) -> bool:
        return module_of(model) == "lightgbm"

    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / FILE))
        return booster_options(model, wrapped=hasattr(model, "booster_"))

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(folder / FILE))

    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        import numpy as np

        raw = np.asarray(native.predict(frame))
        if options.get("kind") != "classifier":
            return raw
        return _labels(self._proba(raw), options["classes"])

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        import numpy as np

        if options.get("kind") != "classifier":
            return None
        return self._proba(np.asarray(native.predict(frame)))

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        return options.get("kind") == "classifier"

    @staticmethod
    def _proba(raw: Any) -> Any:
        import numpy as np

        if raw.ndim == 1:  # binary: probability of the positive class
            return np.column_stack([1.0 - raw, raw])
        return raw


def booster_options(model: Any, *, wrapped: bool) -> dict[str, Any]:
    """What loading a gradient-boosting model needs besides its booster file: its ``kind``
    (``classifier`` with its ``classes``, ``regressor`` for a scikit-learn wrapper without
    classes, or a bare ``booster``). Shared by the LightGBM and XGBoost flavors."""
    classes = getattr(model, "classes_", None)
    kind = "classifier" if classes is not None else "regressor" if wrapped else "booster"
    return {"kind": kind, "classes": None if classes is None else [_plain(c) for c in classes]}


def _labels(proba: Any, classes: list[Any]) -> Any:
    import numpy as np

    return np.asarray(classes)[np.argmax(proba, axis=1)]
