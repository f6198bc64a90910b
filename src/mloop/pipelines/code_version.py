"""A step's code digest: its own source plus the source of the user's helpers it calls.

Hashing only the step function misses a change in ``clean(df)`` defined in the user's
``features.py`` and called by the step, and the cache then hands out outputs of the old code
(issue 15). The digest therefore also covers *user* functions and classes the step refers to:

- names the function's code uses (``co_names``, also in nested functions and comprehensions),
  looked up in its module globals, and the values of its closure cells;
- ``module.attr`` when ``module`` is a user module (``import features; features.clean(x)``);
- transitively, the same for each helper found (a class contributes its whole source, and the
  functions its methods call), up to :data:`MAX_HELPERS` helpers.

"User" means the object's source file lies outside the standard library, site-packages /
dist-packages and mloop itself (or it was defined in ``__main__``: a script, a notebook).
Limits: calls through ``getattr`` with computed names, objects passed in at run time, mutable
module state, data files and helpers beyond the bound are not seen; a helper whose source
cannot be read contributes its bytecode.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
import sysconfig
import textwrap
import types
from collections.abc import Iterator
from typing import Any

from mloop._utils.hashing import sha256_bytes

MAX_HELPERS = 64  # helper functions/classes followed from one step


def step_code_digest(func: Any) -> str:
    """Digest of ``func``'s source and of the sources of the user helpers it reaches."""
    helpers, constants = _helpers(func)
    parts = [_source(func)]
    for name, obj in sorted(helpers.items()):
        parts.append(f"\n# helper {name}\n{_source(obj)}")
    for name, value in sorted(constants.items()):
        parts.append(f"\n# constant {name} = {value!r}")
    return sha256_bytes("".join(parts).encode())


def _source(obj: Any) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        name = getattr(obj, "__qualname__", type(obj).__name__)
        return f"{name}:{code.co_code.hex() if code else ''}"


def _helpers(func: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Qualified name -> user function or class reachable from ``func`` (bounded), and
    ``module.NAME`` -> value of the plain constants (numbers, strings, tuples) they read."""
    found: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    todo = [_unwrap(func)]
    seen = {id(todo[0])}
    while todo and len(found) < MAX_HELPERS:
        current = todo.pop(0)
        for name, obj in _referenced(current):
            if _is_constant(obj) and name:
                constants[f"{_module_label(getattr(current, '__module__', '?'))}.{name}"] = obj
                continue
            obj = _unwrap(obj)
            if id(obj) in seen or not _is_user_object(obj):
                continue
            seen.add(id(obj))
            found[f"{_module_label(obj.__module__)}.{obj.__qualname__}"] = obj
            todo.append(obj)
            if len(found) >= MAX_HELPERS:
                break
    return found, constants


_FILE_MODULE = re.compile(r"^mloop_user_(?P<stem>.+)_[0-9a-f]{12}$")


def _module_label(name: str) -> str:
    """A module's name as the digest sees it: a pipeline file loaded by path is named after
    its absolute path (``mloop_user_<stem>_<hash>``, see :mod:`mloop.pipelines.loading`);
    its stem alone keeps the digest the same in another checkout or an unpacked package."""
    match = _FILE_MODULE.match(name or "")
    return match.group("stem") if match else name


def _is_constant(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return True
    if isinstance(value, (tuple, frozenset)) and depth < 3 and len(value) <= 256:
        return all(_is_constant(v, depth + 1) for v in value)
    return False


def _unwrap(obj: Any) -> Any:
    """The function behind a step, method, partial or decorator; ``obj`` itself otherwise.

    Only types are looked at before an attribute is read: a global of the user's module may be
    a proxy whose ``__getattr__`` imports or raises (Polars' lazy modules raised ``TypeError``
    on Polars 1.34, which made the digest, so the run, fail)."""
    if type(obj).__module__ == "mloop.pipelines.dsl":  # an mloop Step wraps its function
        inner = getattr(obj, "func", None)
        if inner is not None and callable(inner):
            obj = inner
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, functools.partial):
        obj = obj.func
    try:  # decorators (functools.wraps, lru_cache) keep the user's function in __wrapped__
        return inspect.unwrap(obj) if callable(obj) else obj
    except Exception:  # a __wrapped__ cycle (ValueError), or an object whose attributes raise
        return obj


def _referenced(obj: Any) -> Iterator[tuple[str, Any]]:
    """(name, object) for what a function (or each function of a class) names; the name is
    "" for closure cells and module attributes."""
    if isinstance(obj, type):
        for member in vars(obj).values():
            member = _unwrap(member)
            if isinstance(member, types.FunctionType):
                yield from _referenced(member)
        return
    if not isinstance(obj, types.FunctionType):
        return
    names = set(_code_names(obj.__code__))
    scope = obj.__globals__
    for name in names:
        if name in scope:
            value = scope[name]
            yield name, value
            if isinstance(value, types.ModuleType) and _is_user_module(value):
                for attr in names:
                    if attr in vars(value):
                        yield "", vars(value)[attr]
    for cell in obj.__closure__ or ():
        try:
            yield "", cell.cell_contents
        except ValueError:  # an empty cell
            continue


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _is_user_object(obj: Any) -> bool:
    if not isinstance(obj, (types.FunctionType, type)):
        return False
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return module is not None and _is_user_module(module)


@functools.lru_cache(maxsize=2048)
def _is_user_file(path: str) -> bool:
    real = os.path.realpath(path)
    if any(part in ("site-packages", "dist-packages") for part in real.split(os.sep)):
        return False
    return not any(real.startswith(root + os.sep) for root in _library_roots())


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # mloop itself
    return tuple(os.path.realpath(r) for r in roots)


def _is_user_module(module: types.ModuleType) -> bool:
    name = module.__name__
    if name == "mloop" or name.startswith("mloop.") or name in sys.builtin_module_names:
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return name == "__main__"  # a notebook or REPL session: the user's own code
    return _is_user_file(path)
