"""XGBoost models (``XGBClassifier``/``XGBRegressor`` or a ``Booster``) in XGBoost's own UBJSON
format: no pickle. Optional: ``pip install 'mloop[xgboost]'`` (the CPU-only ``xgboost-cpu``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.models.flavors.base import Flavor, module_of
from mloop.models.flavors.lightgbm import _labels, booster_options

FILE = "model.ubj"


class XGBoostFlavor(Flavor):
    name = "xgboost"
    module = "xgboost"
    distributions = ("xgboost", "xgboost-cpu", "numpy")
    extra = "xgboost"

    def matches(self, model: Any) -> bool:
        return module_of(model) == "xgboost"

    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        booster.save_model(str(folder / FILE))
        return booster_options(model, wrapped=hasattr(model, "get_booster"))

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(folder / FILE))
        return booster

    def _raw(self, native: Any, frame: Any) -> Any:
        import numpy as np
        import xgboost

        return np.asarray(native.predict(xgboost.DMatrix(frame, enable_categorical=True)))

    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        raw = self._raw(native, frame)
        if options.get("kind") != "classifier":
            return raw
        return _labels(self._proba(raw), options["classes"])

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        if options.get("kind") != "classifier":
            return None
        return self._proba(self._raw(native, frame))

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        return options.get("kind") == "classifier"

    @staticmethod
    def _proba(raw: Any) -> Any:
        import numpy as np

        return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
