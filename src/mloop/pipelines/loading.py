"""Find a pipeline from a reference: ``package.module:name`` or ``path/to/file.py:name``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from mloop._utils.hashing import sha256_bytes
from mloop.errors import PipelineNotFoundError
from mloop.pipelines.dsl import Pipeline


def load_pipeline(reference: str) -> Pipeline:
    """Import the module (or file) and return the ``@pipeline`` object it names."""
    target, sep, attr = reference.rpartition(":")
    if not sep or not target or not attr:
        raise PipelineNotFoundError(reference, "expected 'module:function'")
    if target.endswith(".py") or "/" in target:
        module = _import_file(Path(target), reference)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise PipelineNotFoundError(reference, f"no module {exc.name!r}") from exc
    obj = getattr(module, attr, None)
    if obj is None:
        raise PipelineNotFoundError(reference, f"{target} has no attribute {attr!r}")
    if not isinstance(obj, Pipeline):
        raise PipelineNotFoundError(reference, f"{attr!r} is not decorated with @pipeline")
    return obj


def _import_file(path: Path, reference: str) -> types.ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise PipelineNotFoundError(reference, f"file {path} does not exist")
    name = f"mloop_user_{path.stem}_{sha256_bytes(str(path).encode())[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    # The file's folder goes on sys.path so that it can import its sibling modules.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
