"""Model flavors, looked up by the model's type (to save) or by name (to load).

The built-ins are the ``model_flavors`` kind of the one backend table (:data:`mloop.plugins.
BUILTINS`). Third-party flavors plug in like every backend: an entry point in the group
``mloop.model_flavors`` or a dotted path ``package.module:Class`` passed as ``flavor=``.
"""

from __future__ import annotations

import threading
from typing import Any

from mloop import plugins
from mloop.errors import BackendNotFoundError, ValidationError
from mloop.models.flavors.base import Flavor

__all__ = ["KIND", "Flavor", "builtin_flavor_names", "flavor_by_name", "flavor_for"]

KIND = "model_flavors"
_LOCK = threading.Lock()
_INSTANCES: dict[str, Flavor] = {}


def flavor_by_name(name: str) -> Flavor:
    """The flavor recorded as ``name`` in a manifest (built-in, entry point or dotted path)."""
    with _LOCK:
        found = _INSTANCES.get(name)
        if found is not None:
            return found
        try:
            cls = plugins.load(KIND, name)
        except BackendNotFoundError as exc:
            raise ValidationError(
                f"unknown model flavor {name!r}; known flavors are {plugins.known_names(KIND)}. "
                "Install the package that provides it, or pass a dotted path 'pkg.mod:Class'"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Flavor)):
            raise ValidationError(f"{name!r} resolves to {cls!r}, which is not a Flavor subclass")
        instance = cls()
        _INSTANCES[name] = instance
        return instance


def flavor_for(model: Any) -> Flavor:
    """The first built-in flavor whose ``matches`` accepts ``model`` (in table order)."""
    for name in builtin_flavor_names():
        flavor = flavor_by_name(name)
        if flavor.matches(model):
            return flavor
    raise ValidationError(
        f"no model flavor can save a {type(model).__module__}.{type(model).__qualname__}; "
        f"built-in flavors are {sorted(builtin_flavor_names())}. Pass flavor='pkg.mod:Class' with "
        "your own mloop.models.flavors.Flavor subclass"
    )


def builtin_flavor_names() -> list[str]:
    """The built-in flavors, most specific first (the order ``flavor_for`` tries them)."""
    return list(plugins.builtins(KIND))
