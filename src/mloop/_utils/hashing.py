"""Stable digests: SHA-256 of bytes, files, canonical JSON and Python source."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

_CHUNK = 1 << 20  # bytes read per file chunk


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, so equal values always give equal bytes (and equal digests).

    orjson is fast but refuses integers beyond 64 bits; such values go through the standard
    library instead (a given value always takes the same path, so its digest is stable).
    """
    options = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
    try:
        return orjson.dumps(value, option=options, default=str)
    except TypeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        return text.encode()


def digest_json(value: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``value``."""
    return sha256_bytes(canonical_json(value))


def code_digest(func: Callable[..., Any]) -> str:
    """Digest of a function's source, dedented, so moving it or re-indenting keeps the key.

    Falls back to the qualified name and bytecode when the source is not available (a REPL).
    """
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        code = getattr(func, "__code__", None)
        source = f"{getattr(func, '__qualname__', repr(func))}:{code.co_code.hex() if code else ''}"
    return sha256_bytes(source.encode())
