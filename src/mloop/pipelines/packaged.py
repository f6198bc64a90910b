"""The pipeline package format: what a package holds, its digest, and running from one.

A package is a folder in the artifact store::

    manifest.json        pipeline, entrypoint, compiled graph spec and version, code file digests,
                         locked requirements, default params, digest
    code/<relpath>       the entrypoint file and the user's own modules it imports, at their paths
                         relative to the project folder
    data/<relpath>       the data files the pipeline declares (``mloop.FileInput`` values, the
                         ``package: include:`` globs of mloop.yaml), likewise; listed with their
                         digests under ``data`` in the manifest (absent when there are none)

The **digest** is the SHA-256 of the canonical JSON of every manifest field except ``digest``
itself (so of the code and data files too, through their digests; ``data`` joins it only when
the package has data files, so packages built before data files existed keep their digest).
:mod:`mloop.cicd.packages` builds packages; the controller runs them through
:func:`load_packaged_pipeline`, which unpacks a package into a cache folder named by its
digest, recomputes the digest from the files there and refuses to run when it is not the one
the deployment recorded. This module lives below the
controller and ``cicd`` so that both use one definition of the format.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mloop._utils.hashing import digest_json, sha256_file
from mloop.artifacts.base import ArtifactStore
from mloop.errors import ConfigError, PackageIntegrityError
from mloop.pipelines.dsl import Pipeline
from mloop.pipelines.graph import PipelineGraph
from mloop.pipelines.loading import load_pipeline

FORMAT = 1
PACKAGE_TAG = "mloop.package.digest"
"""Run tag on every run of a deployed package: the package digest (promotion counts these)."""
DEPLOYMENT_TAG = "mloop.deployment"
"""Run tag on every run of a deployed package: the deployment id."""
PIPELINE_TAG = "mloop.deployment.pipeline"
"""Run tag on every run of a deployed package: the pipeline's name in mloop.yaml."""
MANIFEST = "manifest.json"
CODE_DIR = "code"
DATA_DIR = "data"
_SKIPPED_PARTS = {".mloop", ".venv", "venv", "site-packages", "__pycache__", ".git", ".tox"}
_DIGESTED = (
    "format",
    "pipeline",
    "entrypoint",
    "graph_version",
    "spec",
    "code",
    "requirements",
    "params",
)

__all__ = [
    "CODE_DIR",
    "DATA_DIR",
    "DEPLOYMENT_TAG",
    "MANIFEST",
    "PACKAGE_TAG",
    "PIPELINE_TAG",
    "PackagedDataPipeline",
    "code_digest",
    "load_packaged_pipeline",
    "package_digest",
    "source_files",
    "unpack",
    "verify_package_dir",
]


def package_digest(manifest: Mapping[str, Any]) -> str:
    """The digest of a manifest: over every field in ``_DIGESTED`` (never over ``digest``)."""
    digested = {key: manifest.get(key) for key in _DIGESTED}
    if manifest.get("data"):
        digested["data"] = manifest["data"]
    return digest_json(digested)


def code_digest(files: Mapping[str, str]) -> str:
    """The digest of the code alone: relative path -> file digest, in sorted order."""
    return digest_json(sorted(files.items()))


# -- which files: the entrypoint and the project's own modules it imports --------------------
def source_files(entry: Path, project_dir: Path) -> list[Path]:
    """``entry`` and every module of the project folder it imports, directly or not (found by
    reading the ``import`` statements, so the result does not depend on what is imported in
    this process). Modules resolve against the entry's folder and the project folder, as they
    do when the launcher runs the pipeline. Installed libraries are not included: the
    package's locked requirements name them."""
    project_dir = project_dir.resolve()
    roots = [entry.resolve().parent, project_dir]
    seen: dict[Path, None] = {}
    todo = [entry.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for found in _imported_files(path, roots, project_dir):
            if found not in seen:
                todo.append(found)
    return sorted(seen, key=lambda p: p.relative_to(project_dir).as_posix())


def _imported_files(path: Path, roots: list[Path], project_dir: Path) -> Iterable[Path]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ConfigError(f"{path} is not valid Python ({exc.msg}, line {exc.lineno})") from None
    here = _package_parts(path, roots)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if here is None:
                    continue
                base = here[: len(here) - node.level + 1] if node.level > 1 else here
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{a.name}" if prefix else a.name for a in node.names]
        for name in names:
            yield from _resolve(name, roots, project_dir)


def _package_parts(path: Path, roots: list[Path]) -> list[str] | None:
    """The dotted package of ``path`` as seen from the first root that holds it."""
    for root in roots:
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        return list(rel.parent.parts)
    return None


def _resolve(name: str, roots: list[Path], project_dir: Path) -> Iterable[Path]:
    parts = [p for p in name.split(".") if p]
    if not parts:
        return
    for root in roots:
        found: list[Path] = []
        for depth in range(1, len(parts) + 1):
            base = root.joinpath(*parts[:depth])
            init, module = base / "__init__.py", base.with_suffix(".py")
            if init.is_file():
                found.append(init)
            elif module.is_file():
                found.append(module)
                break
            else:
                break
        found = [f.resolve() for f in found if _is_own(f.resolve(), project_dir)]
        if found:
            yield from found
            return


def _is_own(path: Path, project_dir: Path) -> bool:
    try:
        rel = path.relative_to(project_dir)
    except ValueError:
        return False
    return not (set(rel.parts) & _SKIPPED_PARTS)


def import_fresh(entry: Path, func: str, roots: list[Path]) -> Pipeline:
    """Import the pipeline ``func`` of ``entry`` anew, with ``roots`` first on ``sys.path``.

    Every module the entry imports from ``roots`` (found as :func:`source_files` finds them) is
    dropped from ``sys.modules`` first, so that the code on disk now is what runs and what gets
    digested, never a module of the same name imported earlier in this process (an older build,
    another project, the project folder instead of the package)."""
    for root in reversed(roots):
        if str(root) in sys.path:
            sys.path.remove(str(root))
        sys.path.insert(0, str(root))
    files = source_files(entry, roots[-1])
    for name in _module_names(files, roots):
        sys.modules.pop(name, None)
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and Path(where).resolve() in set(files):
            sys.modules.pop(name, None)
    return load_pipeline(f"{entry}:{func}")


def _module_names(files: Iterable[Path], roots: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in files:
        for root in roots:
            try:
                rel = path.relative_to(root.resolve())
            except ValueError:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                names.add(".".join(parts))
    return names


# -- checking a package folder ----------------------------------------------------------------
def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise PackageIntegrityError(str(folder), "?" * 12, "it has no manifest.json")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def verify_package_dir(folder: Path, expected_digest: str) -> dict[str, Any]:
    """The manifest of the package unpacked at ``folder``, after checking that its code and
    data files are exactly those the manifest lists, with their digests, and that the package digest
    recomputed from all of it is ``expected_digest``; ``IntegrityError`` otherwise."""
    manifest = read_manifest(folder)
    for kind, sub in (("code", CODE_DIR), ("data", DATA_DIR)):
        root = folder / sub
        listed: dict[str, str] = dict(manifest.get(kind) or {})
        present = {
            p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }
        if present != listed:
            changed = sorted(set(present) ^ set(listed)) or sorted(
                k for k in listed if present.get(k) != listed[k]
            )
            raise PackageIntegrityError(
                str(folder), expected_digest, f"{kind} files changed: {changed}"
            )
    actual = package_digest(manifest)
    if actual != expected_digest or manifest.get("digest") != expected_digest:
        raise PackageIntegrityError(str(folder), expected_digest, f"its digest is {actual}")
    return manifest


def unpack(artifacts: ArtifactStore, uri: str, digest: str, cache_root: Path) -> Path:
    """The package at ``uri`` unpacked (once) into ``cache_root/<digest>``, verified against
    ``digest`` every time (a cache folder someone edited is refused, not trusted)."""
    target = cache_root / digest
    if not target.is_dir():
        cache_root.mkdir(parents=True, exist_ok=True)
        staging = cache_root / f".{digest}.{id(target)}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        with artifacts.open_local(uri) as local:
            shutil.copytree(local, staging)
        try:
            staging.rename(target)
        except OSError:  # another launcher unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    verify_package_dir(target, digest)
    return target


def load_packaged_pipeline(
    artifacts: ArtifactStore, uri: str, digest: str, cache_root: Path
) -> tuple[Pipeline, dict[str, Any]]:
    """The pipeline of the package (``digest``) at ``uri``, imported from its unpacked, verified
    copy, and the manifest. The copy's code folder goes first on ``sys.path`` so that the
    pipeline's own modules come from the package, never from the project folder, and a step
    parameter naming a packaged data file (or folder) reads the package's verified copy
    (:class:`PackagedDataPipeline`).

    The compiled steps must be the packaged ones with the same code digests (a step whose
    source comes from an installed library that changed is refused); their literal params may
    differ, since a pipeline body may read its environment (e.g. the alias it pushes to)."""
    from mloop.pipelines.package_requirements import check_requirements

    folder = unpack(artifacts, uri, digest, cache_root)
    manifest = verify_package_dir(folder, digest)
    code_root = (folder / CODE_DIR).resolve()
    check_requirements(manifest, code_root, "this environment")  # before importing any of it
    rel, _, func = str(manifest["entrypoint"]).rpartition(":")
    entry = code_root / rel
    pipeline = import_fresh(entry, func, [entry.parent, code_root])
    if manifest.get("data"):
        pipeline = PackagedDataPipeline(pipeline, (folder / DATA_DIR).resolve(), manifest["data"])
    graph = pipeline.compile(**dict(manifest.get("params") or {}))
    packaged_steps = step_code(manifest.get("spec") or {})
    compiled_steps = step_code(graph.spec())
    if compiled_steps != packaged_steps:
        changed = sorted(
            name
            for name in set(packaged_steps) | set(compiled_steps)
            if packaged_steps.get(name) != compiled_steps.get(name)
        )
        raise PackageIntegrityError(
            str(folder),
            digest,
            f"its steps {changed} compile to other code than was packaged (an installed "
            "library the pipeline imports steps from changed?)",
        )
    return pipeline, manifest


def step_code(spec: Mapping[str, Any]) -> dict[str, str]:
    """Step name -> code digest of a compiled graph spec (``PipelineGraph.spec()``)."""
    steps = spec.get("steps") or {}
    return {str(name): str(node.get("code")) for name, node in dict(steps).items()}


class PackagedDataPipeline(Pipeline):
    """A packaged pipeline whose compiled step parameters that name a packaged data file or
    folder (by its path relative to the project folder, as the package lists it) are the
    absolute path of the package's verified copy under ``data_root``. Other paths, e.g. a
    trigger's ``-p source=...`` naming another file, are left alone (read from the run's
    folder)."""

    def __init__(self, inner: Pipeline, data_root: Path, data: Mapping[str, str]) -> None:
        super().__init__(inner.func, name=inner.name, experiment=inner.experiment)
        self.data_root = data_root
        self.data_files = frozenset(data)
        parts = [f.split("/") for f in data]
        self.data_folders = frozenset("/".join(p[:i]) for p in parts for i in range(1, len(p)))

    def compile(self, **params: Any) -> PipelineGraph:
        graph = super().compile(**params)
        for node in graph.nodes.values():
            for arg, value in list(node.params.items()):
                if isinstance(value, str):
                    node.params[arg] = self.packaged_path(value)
                elif isinstance(value, list):
                    node.params[arg] = [
                        self.packaged_path(v) if isinstance(v, str) else v for v in value
                    ]
        return graph

    def packaged_path(self, text: str) -> str:
        """``text`` as the path of the packaged copy when it names packaged data, else itself."""
        if not text or "://" in text or "\n" in text or Path(text).is_absolute():
            return text
        rel = Path(os.path.normpath(text)).as_posix()
        if rel in self.data_files or rel in self.data_folders:
            return str(self.data_root / rel)
        return text
