"""Which data files a pipeline package holds: the files its steps declare and the ones
``mloop.yaml`` lists, each by its path relative to the project folder.

Two sources, as a Kubeflow or MLflow Projects user expects the small files a pipeline reads to
travel with it:

- declared: a step parameter annotated ``mloop.FileInput`` whose compiled value (the step's
  default, the pipeline's param, or mloop.yaml's) names a file or folder inside the project
  folder (a folder: every file under it). Such a path that does not exist is refused: the run
  would refuse it too. Paths outside the project folder are external data and stay where they
  are.
- listed: ``pipelines.<name>.package.include`` in mloop.yaml, glob patterns relative to the
  project folder (``["data/*.csv", "config/thresholds.json"]``); a pattern matching nothing is
  refused (a typo would otherwise ship a package without its data).

Files are limited in size (``max_file_mb``, default 50 MB each, and ``max_total_mb``, default
200 MB together, both configurable under ``package:``): a package is code plus small reference
data, and big data belongs in an artifact store or a data store the pipeline reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mloop.errors import ConfigError
from mloop.pipelines.graph import PipelineGraph

__all__ = ["DEFAULT_MAX_FILE_MB", "DEFAULT_MAX_TOTAL_MB", "data_files"]

DEFAULT_MAX_FILE_MB = 50.0
DEFAULT_MAX_TOTAL_MB = 200.0
_KNOWN = {"include", "max_file_mb", "max_total_mb"}
_SKIPPED_PARTS = {".mloop", ".venv", "venv", "site-packages", "__pycache__", ".git", ".tox"}
_MB = 1024 * 1024


def data_files(
    graph: PipelineGraph, project_dir: Path, package: Mapping[str, Any]
) -> dict[str, Path]:
    """Relative path -> file of every data file the package of ``graph`` holds, sorted;
    ``ConfigError`` for a bad ``package:`` mapping, a missing declared file, a pattern that
    matches nothing, or a file over the size limits."""
    unknown = sorted(set(package) - _KNOWN)
    if unknown:
        raise ConfigError(f"package: unknown key(s) {unknown}; known keys: {sorted(_KNOWN)}")
    project_dir = project_dir.resolve()
    found: dict[str, Path] = {}
    for step, arg, text in _declared_values(graph):
        path = Path(os.path.normpath(project_dir / os.path.expanduser(text)))
        if _inside(path, project_dir) is None:
            continue  # external data: read where it is
        if not path.exists():
            raise ConfigError(
                f"step {step!r}: parameter {arg!r} is declared mloop.FileInput but {text!r} "
                f"does not exist in the project folder {project_dir}"
            )
        found.update(_files(path, project_dir))
    for pattern in _patterns(package):
        matches = sorted(project_dir.glob(pattern))
        files = {rel: p for m in matches for rel, p in _files(m, project_dir).items()}
        if not files:
            raise ConfigError(
                f"package.include pattern {pattern!r} matches no file in {project_dir}"
            )
        found.update(files)
    _check_sizes(found, package)
    return dict(sorted(found.items()))


def _declared_values(graph: PipelineGraph) -> Iterator[tuple[str, str, str]]:
    """(step, parameter, path text) of every ``mloop.FileInput`` parameter with a literal value."""
    for node in graph.nodes.values():
        for arg in sorted(node.step.file_params):
            value = node.params.get(arg)
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, str) and item and "://" not in item:
                    yield node.name, arg, item


def _patterns(package: Mapping[str, Any]) -> list[str]:
    include = package.get("include") or []
    if isinstance(include, str) or not all(isinstance(p, str) for p in include):
        raise ConfigError("package.include must be a list of glob patterns, e.g. ['data/*.csv']")
    for pattern in include:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ConfigError(
                f"package.include pattern {pattern!r} must be relative to the project folder "
                "and stay inside it"
            )
    return list(include)


def _inside(path: Path, project_dir: Path) -> str | None:
    """``path`` relative to the project folder (posix), or None when outside it or in a
    folder that is never packaged (``.mloop``, ``.git``, virtual environments, ...)."""
    try:
        rel = path.resolve().relative_to(project_dir)
    except ValueError:
        return None
    if set(rel.parts) & _SKIPPED_PARTS or not rel.parts:
        return None
    return rel.as_posix()


def _files(path: Path, project_dir: Path) -> dict[str, Path]:
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {}
    for candidate in candidates:
        rel = _inside(candidate, project_dir)
        if rel is not None:
            out[rel] = candidate.resolve()
    return out


def _limit(package: Mapping[str, Any], key: str, default: float) -> float:
    value = package.get(key, default)
    try:
        limit = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"package.{key} must be a number of MB, got {value!r}") from None
    if limit <= 0:
        raise ConfigError(f"package.{key} must be positive, got {value!r}")
    return limit


def _check_sizes(files: Mapping[str, Path], package: Mapping[str, Any]) -> None:
    max_file = _limit(package, "max_file_mb", DEFAULT_MAX_FILE_MB)
    max_total = _limit(package, "max_total_mb", DEFAULT_MAX_TOTAL_MB)
    total = 0
    for rel, path in files.items():
        size = path.stat().st_size
        total += size
        if size > max_file * _MB:
            raise ConfigError(
                f"data file {rel} is {size / _MB:.1f} MB, over the package limit of "
                f"{max_file:g} MB per file: keep big data in an artifact or data store and pass "
                "its URI as a param, or raise pipelines.<name>.package.max_file_mb in mloop.yaml"
            )
    if total > max_total * _MB:
        raise ConfigError(
            f"the package's data files are {total / _MB:.1f} MB together, over the limit of "
            f"{max_total:g} MB: keep big data in an artifact or data store, or raise "
            "pipelines.<name>.package.max_total_mb in mloop.yaml"
        )
