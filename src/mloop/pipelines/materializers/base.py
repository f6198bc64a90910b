"""The materializer contract: how one kind of Python value becomes files in a folder, and back.

A materializer is stateless. ``name`` is recorded in the metadata store beside each artifact and
is how the value is loaded again, so it never changes; ``version`` is part of a step's cache key,
so bump it whenever the files written for the same value change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from mloop.errors import ValidationError

__all__ = ["Materializer", "UnsupportedValueError", "type_names"]


def type_names(cls: type) -> tuple[str, ...]:
    """The dotted names a class answers to: ``module.QualName`` (e.g. ``pandas.DataFrame``)."""
    return (f"{cls.__module__}.{cls.__qualname__}",)


class Materializer(ABC):
    """Saves values of some Python types into a folder and loads them back.

    ``types`` lists the classes handled, as classes or as dotted names
    (``"polars.dataframe.frame.DataFrame"``); names let a built-in claim a type without importing
    its library. Values match by ``isinstance`` through their class's MRO: the materializer that
    claims the most specific class wins.
    """

    name: ClassVar[str]  # stable id recorded in metadata, e.g. "polars.parquet"
    version: ClassVar[int] = 1  # part of the pipeline cache key; bump when the format changes
    artifact_type: ClassVar[str] = "Object"  # "Dataset", "Array", "Value", "Bytes", "Object"
    types: ClassVar[tuple[type | str, ...]] = ()

    def unsupported_reason(self, value: Any) -> str | None:
        """Why this materializer cannot save ``value`` though its type matches (``None`` if it
        can); e.g. a numpy array of dtype ``object``. The registry then looks further."""
        return None

    @abstractmethod
    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``value`` as files into the empty ``folder``; return JSON-able properties
        (rows, columns, schema, dtype, shape, ...) to record beside the artifact."""

    @abstractmethod
    def load(self, folder: Path) -> Any:
        """Read back what :meth:`save` wrote into ``folder``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} v{self.version}>"


class UnsupportedValueError(ValidationError):
    """A materializer matched a value's type but cannot save this value (e.g. a dict with
    non-string keys for JSON); ``store_value`` falls back to pickle when it is allowed."""
