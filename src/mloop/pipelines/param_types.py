"""Pipeline parameters checked against the pipeline function's type hints, before a run starts.

``-p C=abc`` for ``C: float`` used to start a run that failed deep inside scikit-learn, and a
value outside a ``Literal`` ended in a traceback (issue 15). :func:`check_params` refuses such
values with :class:`~mloop.errors.ParameterTypeError` naming the parameter, the value and what
was expected. Understood hints: ``int``, ``float`` (an ``int`` is widened), ``bool``, ``str``,
``Path``/``os.PathLike`` (kept as its string: parameters are JSON), ``Literal[...]``, ``Enum``
(by value), ``Optional``/``Union``/``X | Y``, ``list[...]``/``tuple[...]``/``Sequence[...]``,
``dict[str, ...]``/``Mapping``, ``Any``. Other hints (classes, TypedDicts, ...) are not
checked. Only values actually given are checked; defaults are the author's business.
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import os
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from mloop.errors import ParameterTypeError


class _Mismatch(Exception):
    """The value does not fit; ``expected`` says what would (for the message)."""

    def __init__(self, expected: str, detail: str = "") -> None:
        super().__init__(expected)
        self.expected, self.detail = expected, detail


def type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """``func``'s resolved parameter hints; {} when they cannot be resolved."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # a forward reference that does not resolve: nothing to check against
        return {}
    hints.pop("return", None)
    return hints


def check_params(
    pipeline: str, params: Mapping[str, Any], hints: Mapping[str, Any]
) -> dict[str, Any]:
    """``params`` checked (and ``int`` -> ``float``, ``Path`` -> ``str`` converted) against
    ``hints``; raises ``ParameterTypeError`` for the first value that does not fit."""
    checked: dict[str, Any] = {}
    for name, value in params.items():
        hint = hints.get(name, Any)
        try:
            checked[name] = coerce(value, hint)
        except _Mismatch as exc:
            raise ParameterTypeError(pipeline, name, value, exc.expected, exc.detail) from None
    return checked


def accepts(value: Any, hint: Any) -> bool:
    """True when ``value`` fits ``hint``."""
    try:
        coerce(value, hint)
    except _Mismatch:
        return False
    return True


def coerce(value: Any, hint: Any) -> Any:
    """``value`` if it fits ``hint`` (converted where lossless), else raise ``_Mismatch``."""
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return value
    if hint is None or hint is type(None):
        if value is None:
            return None
        raise _Mismatch("None")
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return coerce(value, typing.get_args(hint)[0])
    if origin is typing.Literal:
        return _literal(value, typing.get_args(hint))
    if origin is typing.Union or origin is types.UnionType:
        return _union(value, typing.get_args(hint))
    if origin in (list, tuple, set, frozenset, cabc.Sequence, cabc.Collection, cabc.Iterable):
        return _sequence(value, hint, origin)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return _mapping(value, hint)
    if isinstance(hint, type):
        return _plain(value, hint)
    return value  # a hint we do not understand is not checked


def _plain(value: Any, hint: type) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch("a bool", "write true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch("an int", "write a whole number, e.g. 200")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch("a float", "write a number, e.g. 0.1 or 1e-3")
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch("a str")
    if issubclass(hint, os.PathLike) or hint is os.PathLike:
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        raise _Mismatch("a path", "write a file or folder path")
    if issubclass(hint, enum.Enum):
        return _enum(value, hint)
    if hint in (list, tuple, set, frozenset):
        return _sequence(value, hint, hint)
    if hint is dict:
        return _mapping(value, hint)
    if isinstance(value, hint):
        return value
    return value  # another class: not checked (it could be built from the value)


def _literal(value: Any, options: tuple[Any, ...]) -> Any:
    for option in options:
        if type(option) is type(value) and option == value:
            return option
        if isinstance(option, enum.Enum) and option.value == value:
            return option.value
    listed = ", ".join(repr(o.value if isinstance(o, enum.Enum) else o) for o in options)
    raise _Mismatch(f"one of {listed}")


def _enum(value: Any, hint: type[enum.Enum]) -> Any:
    for member in hint:
        if member.value == value or member is value or member.name == value:
            return member.value
    listed = ", ".join(repr(m.value) for m in hint)
    raise _Mismatch(f"one of {listed} ({hint.__name__})")


def _union(value: Any, arms: tuple[Any, ...]) -> Any:
    expected: list[str] = []
    for arm in arms:  # the first arm that takes the value as it is wins (int before float)
        try:
            return coerce(value, arm)
        except _Mismatch as exc:
            expected.append(exc.expected)
    raise _Mismatch(" or ".join(dict.fromkeys(expected)))


def _sequence(value: Any, hint: Any, origin: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch("a list", "write e.g. [1, 2, 3]")
    args = typing.get_args(hint)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise _Mismatch(f"a list of {len(args)} values")
        return [coerce(v, a) for v, a in zip(value, args, strict=True)]
    item = args[0] if args else Any
    out = []
    for i, v in enumerate(value):
        try:
            out.append(coerce(v, item))
        except _Mismatch as exc:
            raise _Mismatch(
                f"a list whose items are {exc.expected}", f"item {i} is {v!r}"
            ) from None
    return out


def _mapping(value: Any, hint: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _Mismatch("a mapping", "write e.g. {a: 1, b: 2}")
    args = typing.get_args(hint)
    item = args[1] if len(args) == 2 else Any
    out = {}
    for k, v in value.items():
        try:
            out[k] = coerce(v, item)
        except _Mismatch as exc:
            raise _Mismatch(f"a mapping whose values are {exc.expected}", f"key {k!r}") from None
    return out
