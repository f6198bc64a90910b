"""Built-in model flavors, looked up by the model's type (to save) or by name (to load).

Third-party flavors plug in like every backend: an entry point in the group
``mloop.model_flavors`` or a dotted path ``package.module:Class`` passed as ``flavor=``.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from mloop import plugins
from mloop.errors import BackendNotFoundError, ValidationError
from mloop.models.flavors.base import Flavor

__all__ = ["BUILTIN_FLAVORS", "Flavor", "flavor_by_name", "flavor_for"]

KIND = "model_flavors"
# Most specific first: sklearn's test (fit + predict + get_params) also matches the
# scikit-learn wrappers of LightGBM and XGBoost, which have native formats.
BUILTIN_FLAVORS: dict[str, str] = {
    "onnx": "mloop.models.flavors.onnx:OnnxFlavor",
    "lightgbm": "mloop.models.flavors.lightgbm:LightGBMFlavor",
    "xgboost": "mloop.models.flavors.xgboost:XGBoostFlavor",
    "torch": "mloop.models.flavors.torch:TorchFlavor",
    "sklearn": "mloop.models.flavors.sklearn:SklearnFlavor",
}
_LOCK = threading.Lock()
_INSTANCES: dict[str, Flavor] = {}


def flavor_by_name(name: str) -> Flavor:
    """The flavor recorded as ``name`` in a manifest (built-in, entry point or dotted path)."""
    with _LOCK:
        found = _INSTANCES.get(name)
        if found is not None:
            return found
        path = BUILTIN_FLAVORS.get(name)
        try:
            cls = _import(path) if path else plugins.load(KIND, name)
        except BackendNotFoundError as exc:
            raise ValidationError(
                f"unknown model flavor {name!r}; built-in flavors are {sorted(BUILTIN_FLAVORS)}. "
                "Install the package that provides it, or pass a dotted path 'pkg.mod:Class'"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Flavor)):
            raise ValidationError(f"{name!r} resolves to {cls!r}, which is not a Flavor subclass")
        instance = cls()
        _INSTANCES[name] = instance
        return instance


def flavor_for(model: Any) -> Flavor:
    """The first built-in flavor whose ``matches`` accepts ``model``."""
    for name in BUILTIN_FLAVORS:
        flavor = flavor_by_name(name)
        if flavor.matches(model):
            return flavor
    raise ValidationError(
        f"no model flavor can save a {type(model).__module__}.{type(model).__qualname__}; "
        f"built-in flavors are {sorted(BUILTIN_FLAVORS)}. Pass flavor='pkg.mod:Class' with "
        "your own mloop.models.flavors.Flavor subclass"
    )


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
