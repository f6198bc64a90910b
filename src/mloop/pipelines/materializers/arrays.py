"""numpy arrays and scalars as ``.npy`` files, never pickled.

Arrays of dtype ``object`` (or structured dtypes holding objects) cannot be stored without pickle,
so they are refused here; the registry then falls back to pickle only when it is allowed.
numpy is imported inside the methods: registering these costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.pipelines.materializers.base import Materializer

__all__ = ["NumpyArrayMaterializer", "NumpyScalarMaterializer"]


def _object_reason(value: Any) -> str | None:
    if value.dtype.hasobject:
        return "dtype=object needs pickle; use a typed dtype or @step(allow_pickle=True)"
    return None


class NumpyArrayMaterializer(Materializer):
    """``numpy.ndarray`` -> ``array.npy`` (``allow_pickle=False`` both ways)."""

    name = "numpy.npy"
    version = 1
    artifact_type = "Array"
    types = ("numpy.ndarray",)

    def unsupported_reason(self, value: Any) -> str | None:
        """Object arrays need pickle."""
        return _object_reason(value)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write ``array.npy``; properties: ``dtype``, ``shape``, ``nbytes``."""
        import numpy as np

        np.save(folder / "array.npy", value, allow_pickle=False)
        return {"dtype": str(value.dtype), "shape": list(value.shape), "nbytes": int(value.nbytes)}

    def load(self, folder: Path) -> Any:
        """The array, read fully into memory (writable)."""
        import numpy as np

        return np.load(folder / "array.npy", allow_pickle=False)


class NumpyScalarMaterializer(Materializer):
    """``numpy.generic`` scalars (``np.int64(3)``) -> ``scalar.npy``, loaded with their dtype."""

    name = "numpy.scalar"
    version = 1
    artifact_type = "Value"
    types = ("numpy.generic",)

    def unsupported_reason(self, value: Any) -> str | None:
        """Object scalars need pickle."""
        return _object_reason(value)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        """Write a 0-d ``scalar.npy``; properties: ``dtype``."""
        import numpy as np

        np.save(folder / "scalar.npy", np.asarray(value), allow_pickle=False)
        return {"dtype": str(value.dtype)}

    def load(self, folder: Path) -> Any:
        """The scalar, as the numpy type it was saved as."""
        import numpy as np

        return np.load(folder / "scalar.npy", allow_pickle=False)[()]
