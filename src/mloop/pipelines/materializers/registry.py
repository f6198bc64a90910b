"""Which materializer saves a value (by type) and which loads an artifact (by recorded name).

Built-ins are the ``materializers`` kind of the one backend table (:data:`mloop.plugins.BUILTINS`)
and claim their types by *name*, so this module imports neither pandas, polars, pyarrow nor
numpy. Third-party materializers register with :func:`register_materializer` or through the
entry-point group ``mloop.materializers`` (loaded once, lazily, via :mod:`mloop.plugins`).
"""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from typing import Any

from mloop import plugins
from mloop.errors import BackendNotFoundError, ValidationError
from mloop.pipelines.materializers.base import Materializer, type_names

__all__ = [
    "PICKLE_NAME",
    "materializer_by_name",
    "materializer_for",
    "register_materializer",
    "registered_materializers",
]

PICKLE_NAME = "pickle"  # the opt-in fallback, never chosen by type
KIND = "materializers"  # plugins kind; entry-point group "mloop.materializers"

_LOCK = threading.RLock()
_BY_NAME: dict[str, Materializer] = {}
_BY_TYPE: dict[type | str, Materializer] = {}
_STATE = {"builtins": False, "entry_points": False}


def _type_key(t: type | str) -> type | str:
    if isinstance(t, str):
        return t
    if isinstance(t, type):
        return t
    raise ValidationError(f"materializer types must be classes or dotted names, got {t!r}")


def register_materializer(cls: type[Materializer], *, override: bool = False) -> Materializer:
    """Register ``cls`` for its ``types`` and under its ``name``; returns the instance used.

    A name or type another materializer already claims raises ``ValidationError`` unless
    ``override=True``. An overridden materializer stays loadable by name, so artifacts it wrote
    still load.
    """
    if not (isinstance(cls, type) and issubclass(cls, Materializer)):
        raise ValidationError(f"{cls!r} is not a Materializer subclass; subclass Materializer")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValidationError(f"materializer {cls.__qualname__} needs a non-empty 'name'")
    instance = cls()
    keys = [_type_key(t) for t in cls.types]
    with _LOCK:
        if not override:
            old = _BY_NAME.get(name)
            if old is not None and type(old) is not cls:
                raise ValidationError(
                    f"materializer name {name!r} is taken by {type(old).__qualname__}; "
                    "choose another name or pass override=True"
                )
            for key in keys:
                owner = _BY_TYPE.get(key)
                if owner is not None and type(owner) is not cls:
                    raise ValidationError(
                        f"type {_describe(key)} is already handled by {owner.name!r}; "
                        "pass override=True to replace it"
                    )
        _BY_NAME[name] = instance
        for key in keys:
            _BY_TYPE[key] = instance
    return instance


def _describe(key: type | str) -> str:
    return key if isinstance(key, str) else type_names(key)[0]


def _ensure_loaded() -> None:
    if _STATE["builtins"] and _STATE["entry_points"]:
        return
    with _LOCK:
        if not _STATE["builtins"]:
            _STATE["builtins"] = True
            for cls in _builtin_classes():
                register_materializer(cls, override=True)
        if not _STATE["entry_points"]:
            _STATE["entry_points"] = True
            for ep in entry_points(group=f"mloop.{KIND}"):
                register_materializer(plugins.load(KIND, ep.name), override=True)


def _builtin_classes() -> list[type[Materializer]]:
    # The modules import their libraries inside methods only: importing them is cheap.
    return [plugins.load(KIND, name) for name in plugins.builtins(KIND)]


def materializer_for(value: Any, *, allow_pickle: bool = False) -> Materializer:
    """The materializer for ``value``: the one claiming the most specific class in its MRO.

    Raises ``ValidationError`` naming the type when none fits and ``allow_pickle`` is false.
    """
    _ensure_loaded()
    refusals: list[str] = []
    for klass in type(value).__mro__:
        found = _BY_TYPE.get(klass)
        if found is None:
            for tname in type_names(klass):
                found = _BY_TYPE.get(tname)
                if found is not None:
                    break
        if found is None:
            continue
        reason = found.unsupported_reason(value)
        if reason is None:
            return found
        refusals.append(f"{found.name}: {reason}")
    if allow_pickle:
        return materializer_by_name(PICKLE_NAME)
    tname = type_names(type(value))[0]
    why = f" ({'; '.join(refusals)})" if refusals else ""
    raise ValidationError(
        f"no materializer can store a value of type {tname}{why}; register one with "
        "mloop.pipelines.materializers.register_materializer(...) or opt in to pickle with "
        "@step(allow_pickle=True)"
    )


def materializer_by_name(name: str) -> Materializer:
    """The materializer recorded as ``name`` (to load an artifact).

    Falls back to an entry point or dotted path ``pkg.mod:Class`` through :mod:`mloop.plugins`.
    Raises ``ValidationError`` when nothing answers to ``name``.
    """
    _ensure_loaded()
    with _LOCK:
        found = _BY_NAME.get(name)
    if found is not None:
        return found
    try:
        cls = plugins.load(KIND, name)
    except BackendNotFoundError as exc:
        known = ", ".join(sorted(_BY_NAME))
        raise ValidationError(
            f"unknown materializer {name!r}; known: {known}. Install or register the package "
            "that provides it before loading this artifact"
        ) from exc
    return register_materializer(cls, override=True)


def registered_materializers() -> dict[str, Materializer]:
    """Every registered materializer by name (a copy)."""
    _ensure_loaded()
    with _LOCK:
        return dict(_BY_NAME)
