"""``-p key=value`` pipeline parameters: values are read as YAML scalars.

``-p n_estimators=200`` gives the int 200, ``-p rate=0.1`` a float (``1e-3`` too, unlike YAML
1.1), ``-p balanced=true`` a bool, ``-p name=abc`` a string; quote to keep a string
(``-p version="'1.0'"``). YAML flow lists and mappings (``-p ks=[1,2]``) are accepted too,
since parameters are JSON values. Where the pipeline's type hint wants a ``str`` and YAML read
another type, the text is kept as written; every value is then checked against the hints of the
pipeline function before the run starts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import yaml

from mloop.errors import ConfigError

_JSON_SCALARS = (str, int, float, bool, type(None))
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")  # 1e-3: a str in YAML 1.1


def parse_param(text: str) -> tuple[str, Any]:
    """``"key=value"`` -> ``("key", value)``; raises ``ConfigError`` on a missing ``=`` or key."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"parameter {text!r} is not key=value; write e.g. -p n_estimators=200")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML (e.g. "a: b: c"): keep the text as given
    if isinstance(value, str) and _EXPONENT.match(value.strip()):
        value = float(value)
    return key, _jsonable(value)


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """Every ``-p`` option as one mapping; a key given twice is an error."""
    params: dict[str, Any] = {}
    for item in items:
        key, value = parse_param(item)
        if key in params:
            raise ConfigError(f"parameter {key!r} is given twice with -p; give it once")
        params[key] = value
    return params


def parse_param_texts(items: Iterable[str]) -> dict[str, str]:
    """Every ``-p`` option as key -> the text after ``=`` (stripped), for :func:`fit_to_hints`."""
    return {key.strip(): raw.strip() for key, _, raw in (i.partition("=") for i in items)}


def fit_to_hints(
    values: dict[str, Any], texts: dict[str, str], hints: dict[str, Any]
) -> dict[str, Any]:
    """Values read as YAML, except where the pipeline's hint takes a ``str`` and YAML read
    something else: ``-p version=1.10`` for ``version: str`` is ``"1.10"``, not ``1.1``.
    The pipeline then checks every value against its hints (``ParameterTypeError``)."""
    from mloop.pipelines.param_types import accepts

    fitted = dict(values)
    for key, value in values.items():
        hint = hints.get(key)
        if hint is None or key not in texts or isinstance(value, str) or value is None:
            continue
        if not accepts(value, hint) and accepts(texts[key], hint):
            fitted[key] = texts[key]
    return fitted


def _jsonable(value: Any) -> Any:
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()  # YAML reads 2024-01-01 as a date; parameters are JSON
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
