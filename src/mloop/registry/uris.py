"""``models:/`` URIs: ``models:/NAME/VERSION``, ``models:/NAME/latest`` and ``models:/NAME@ALIAS``
(the MLflow forms), parsed here and resolved by :mod:`mloop.registry.registry`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mloop.errors import ValidationError

__all__ = ["ModelUri", "parse_model_uri"]

SCHEME = "models:/"
_NAME = r"[^/@\s]{1,255}"
_FORMS = re.compile(rf"^models:/(?P<name>{_NAME})(?:/(?P<version>\d+|latest)|@(?P<alias>{_NAME}))$")


@dataclass(frozen=True)
class ModelUri:
    """A parsed URI: exactly one of ``version`` (an int, or None for latest) or ``alias``."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{SCHEME}{self.name}@{self.alias}"
        return f"{SCHEME}{self.name}/{'latest' if self.version is None else self.version}"


def parse_model_uri(uri: str) -> ModelUri:
    """``models:/lending/3`` -> ModelUri("lending", 3); ``ValidationError`` for any other form."""
    match = _FORMS.match(uri.strip()) if isinstance(uri, str) else None
    if match is None:
        raise ValidationError(
            f"{uri!r} is not a model URI; use models:/NAME/VERSION, models:/NAME/latest or "
            "models:/NAME@ALIAS"
        )
    version = match["version"]
    return ModelUri(
        name=match["name"],
        version=int(version) if version and version != "latest" else None,
        alias=match["alias"],
    )
