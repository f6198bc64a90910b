"""Which step arguments name local files or folders, whose *content* then keys the cache.

A step that takes ``path: str = "data/in.parquet"`` reads the file's bytes, not the string, so
caching on the string hands out stale outputs once the file is rewritten (issue 15). Two rules
find such arguments:

- declared: the parameter is annotated ``mloop.FileInput`` or ``Annotated[str, mloop.FileInput]``
  (also ``list[...]`` of those). The path must exist, or the run is refused before it starts.
- implicit: a parameter (or an upstream output that is a plain ``str``, or a list of ``str``)
  whose value names an existing file or folder relative to the current directory (the project
  folder under ``mloop run``). A string that names nothing stays a plain value.

The implicit rule skips the current directory itself and its ancestors (``"."``, ``"/"``),
multi-line or very long strings and URLs, so a separator or a mode name never makes the step
hash the whole disk.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mloop.errors import FileInputNotFoundError

MAX_PATH_CHARS = 1024  # longer strings are never taken as paths
MAX_LISTED_PATHS = 64  # items of a list parameter looked at by the implicit rule


class FileInput:
    """Marks a step parameter as a local file or folder that the step reads.

    ``def ingest(path: mloop.FileInput): ...`` or, for type checkers,
    ``def ingest(path: Annotated[str, mloop.FileInput]): ...``. The content of the file (a folder:
    its listing and the content of every file in it) then joins the step's cache key, the file
    is recorded as an input artifact of the execution, and a missing path is refused before the
    run starts. Undeclared ``str`` parameters that name existing paths get the same treatment;
    declaring makes it explicit and catches typos.
    """

    def __init__(self) -> None:  # pragma: no cover - used as a marker class, not instantiated
        raise TypeError("mloop.FileInput is an annotation: write `path: mloop.FileInput`")


def declared_file_params(func: Any) -> frozenset[str]:
    """Names of ``func``'s parameters annotated with :class:`FileInput` (possibly in a list)."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # an unresolvable forward reference: fall back on the annotation text
        raw = getattr(func, "__annotations__", {})
        return frozenset(n for n, a in raw.items() if "FileInput" in str(a) and n != "return")
    return frozenset(n for n, hint in hints.items() if n != "return" and _mentions(hint))


def path_params(func: Any) -> frozenset[str]:
    """Names of ``func``'s parameters annotated ``Path`` (or ``Path | None``)."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return frozenset()
    return frozenset(n for n, hint in hints.items() if n != "return" and _is_path_hint(hint))


def _is_path_hint(hint: Any) -> bool:
    options = (hint, *typing.get_args(hint))
    return any(isinstance(h, type) and issubclass(h, os.PathLike) for h in options)


def _mentions(hint: Any, depth: int = 0) -> bool:
    if hint is FileInput:
        return True
    if depth > 4:
        return False
    metadata = getattr(hint, "__metadata__", ())
    if any(m is FileInput or isinstance(m, FileInput) for m in metadata):
        return True
    return any(_mentions(arg, depth + 1) for arg in typing.get_args(hint))


def file_paths(
    step_name: str,
    values: Mapping[str, Any],
    declared: frozenset[str],
    cwd: Path,
    *,
    detect: bool = True,
) -> dict[str, Path]:
    """Event name -> absolute path for the values that name files or folders.

    ``values`` are argument name -> value. A list gives names ``arg[0]``, ``arg[1]``, ...
    ``detect=False`` looks at the declared arguments only.
    Raises ``FileInputNotFoundError`` for a declared argument naming a missing path.
    """
    found: dict[str, Path] = {}
    for arg, value in values.items():
        if arg in declared:
            for name, text in _strings(arg, value):
                path = _absolute(text, cwd)
                if not path.exists():
                    raise FileInputNotFoundError(step_name, arg, text, str(cwd))
                found[name] = path
            continue
        if not detect:
            continue
        for name, text in _strings(arg, value, limit=MAX_LISTED_PATHS):
            implicit = _implicit_path(text, cwd)
            if implicit is not None:
                found[name] = implicit
    return found


def _strings(arg: str, value: Any, limit: int | None = None) -> Iterator[tuple[str, str]]:
    if isinstance(value, (str, os.PathLike)):
        yield arg, os.fspath(value) if not isinstance(value, str) else value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value[:limit]):
            if isinstance(item, (str, os.PathLike)):
                yield f"{arg}[{i}]", os.fspath(item) if not isinstance(item, str) else item


def _absolute(text: str, cwd: Path) -> Path:
    path = Path(os.path.expanduser(text))
    return Path(os.path.normpath(path if path.is_absolute() else cwd / path))


def _implicit_path(text: str, cwd: Path) -> Path | None:
    """The path ``text`` names if it is a plausible local path that exists, else None."""
    if not text or len(text) > MAX_PATH_CHARS or "\n" in text or "\x00" in text:
        return None
    if "://" in text:
        return None  # a URL (s3://, http://): not a local file
    path = _absolute(text, cwd)
    try:
        if not path.exists():
            return None
    except OSError:  # e.g. a name too long for the file system
        return None
    if path == cwd or path in cwd.parents:
        return None  # "." or "/": the project itself is not a data input
    return path
