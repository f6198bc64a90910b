"""``mloop pipeline build``: a versioned, content-addressed package of one pipeline.

The package holds the compiled graph (spec and version, with the default params of
``mloop.yaml``), the entrypoint file and the project's own modules it imports, the locked
requirements of the running Python environment (every installed distribution and its version,
read with ``importlib.metadata``), the data files the pipeline declares
(:mod:`mloop.cicd.package_data`) and the digest over all of it (:mod:`mloop.pipelines.packaged`
defines the format). Its files go to the environment's artifact store at
``packages/<pipeline>/<digest>``, its row to the metadata store; building unchanged code again
returns the same package. A package reaches another environment's stores by :func:`copy_package`
(checked against its digest on the way).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mloop._utils.hashing import sha256_file
from mloop.artifacts.content import hash_folder
from mloop.cicd.environments import Environment
from mloop.cicd.package_data import data_files
from mloop.errors import ConfigError
from mloop.metadata.deployments import PipelinePackage
from mloop.pipelines import packaged

__all__ = [
    "build_package",
    "copy_package",
    "diff_packages",
    "locked_requirements",
    "package_manifest",
]


def locked_requirements() -> list[str]:
    """``name==version`` of every distribution installed in this interpreter, sorted by name."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.name or "").strip()
        if name:
            found.setdefault(name.lower().replace("_", "-"), dist.version)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def entry_file(entrypoint: str, project_dir: Path) -> tuple[Path, str]:
    """The file and function of an ``entrypoint`` (``path/file.py:func`` or ``pkg.mod:func``)
    inside the project folder; ``ConfigError`` when it is not the project's own code."""
    target, sep, func = entrypoint.rpartition(":")
    if not sep or not target or not func:
        raise ConfigError(f"entrypoint {entrypoint!r} must be 'path/file.py:function'")
    if target.endswith(".py") or "/" in target:
        path = Path(target) if Path(target).is_absolute() else project_dir / target
    else:
        base = project_dir.joinpath(*target.split("."))
        path = base / "__init__.py" if (base / "__init__.py").is_file() else base.with_suffix(".py")
    path = path.resolve()
    try:
        path.relative_to(project_dir.resolve())
    except ValueError:
        raise ConfigError(
            f"entrypoint {entrypoint!r} is not inside the project folder {project_dir}; a "
            "package holds the project's own code (installed libraries are its requirements)"
        ) from None
    if not path.is_file():
        raise ConfigError(f"entrypoint {entrypoint!r}: {path} does not exist")
    return path, func


def package_manifest(
    env: Environment, name: str, params: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest of pipeline ``name`` as the project folder holds it now, and its files
    (``code/<relpath>`` or ``data/<relpath>`` in the package -> file). Imports the pipeline and
    compiles it; runs no step."""
    settings = env.settings
    if name not in settings.pipelines:
        known = ", ".join(sorted(settings.pipelines)) or "none"
        raise ConfigError(
            f"no pipeline {name!r} in mloop.yaml (known: {known}); add it under `pipelines:`"
        )
    project_dir = settings.project_dir.resolve()
    configured = settings.pipelines[name]
    path, func = entry_file(configured.entrypoint, project_dir)
    pipeline = packaged.import_fresh(path, func, [path.parent, project_dir])
    graph = pipeline.compile(**{**configured.params, **dict(params or {})})
    files = {
        p.relative_to(project_dir).as_posix(): p for p in packaged.source_files(path, project_dir)
    }
    code = {rel: sha256_file(p) for rel, p in files.items()}
    data = data_files(graph, project_dir, configured.package)
    manifest: dict[str, Any] = {
        "format": packaged.FORMAT,
        "pipeline": name,
        "entrypoint": f"{path.relative_to(project_dir).as_posix()}:{func}",
        "graph_version": graph.version,
        "spec": json.loads(json.dumps(graph.spec(), default=str)),
        "code": code,
        "requirements": locked_requirements(),
        "params": graph.params,
    }
    if data:
        manifest["data"] = {rel: sha256_file(p) for rel, p in data.items()}
    manifest["code_digest"] = packaged.code_digest(code)
    manifest["digest"] = packaged.package_digest(manifest)
    parts = {f"{packaged.CODE_DIR}/{rel}": p for rel, p in files.items()}
    parts.update({f"{packaged.DATA_DIR}/{rel}": p for rel, p in data.items()})
    return manifest, parts


def build_package(
    env: Environment,
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    created_by: str | None = None,
) -> PipelinePackage:
    """Build pipeline ``name`` into ``env``'s stores (idempotent: same content, same package)."""
    manifest, files = package_manifest(env, name, params)
    digest = manifest["digest"]
    existing = _find(env, digest)
    if existing is not None:
        return existing
    staging = env.artifacts.new_staging_dir()
    for rel, source in files.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (staging / packaged.MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
    )
    packaged.verify_package_dir(staging, digest)  # a file changed while we copied it
    return _publish(env, staging, manifest, created_by=created_by)


def copy_package(
    source: Environment, target: Environment, package: PipelinePackage
) -> PipelinePackage:
    """``package`` (a row of ``source``) in ``target``'s stores: copied and checked against its
    digest when not there yet; keeps its version number when that is free in ``target``."""
    existing = _find(target, package.digest)
    if existing is not None:
        return existing
    staging = target.artifacts.new_staging_dir()
    with source.artifacts.open_local(package.uri, digest=package.files_digest) as local:
        shutil.copytree(local, staging, dirs_exist_ok=True)
    manifest = packaged.verify_package_dir(staging, package.digest)
    return _publish(
        target, staging, manifest, created_by=package.created_by, version=package.version
    )


def _find(env: Environment, digest: str) -> PipelinePackage | None:
    from mloop.errors import NotFoundError

    try:
        return env.deployments.get_package(digest)
    except NotFoundError:
        return None


def _publish(
    env: Environment,
    staging: Path,
    manifest: Mapping[str, Any],
    *,
    created_by: str | None,
    version: int | None = None,
) -> PipelinePackage:
    digest = str(manifest["digest"])
    uri = f"packages/{manifest['pipeline']}/{digest}"
    if env.artifacts.exists(uri):
        shutil.rmtree(staging, ignore_errors=True)
        with env.artifacts.open_local(uri) as local:
            packaged.verify_package_dir(local, digest)
            files_digest = hash_folder(local).digest
    else:
        files_digest = env.artifacts.put_dir(staging, uri).digest
    return env.deployments.add_package(
        str(manifest["pipeline"]),
        digest=digest,
        uri=uri,
        files_digest=files_digest,
        graph_version=str(manifest["graph_version"]),
        code_digest=str(manifest["code_digest"]),
        manifest=manifest,
        created_by=created_by,
        version=version,
    )


def diff_packages(a: PipelinePackage, b: PipelinePackage) -> dict[str, Any]:
    """What changed from ``a`` to ``b``: code and data files (added, removed, changed), steps
    whose code digest or params changed, params, and requirements (added, removed, changed
    versions)."""
    ma, mb = a.manifest, b.manifest
    ca, cb = dict(ma.get("code") or {}), dict(mb.get("code") or {})
    da, db = dict(ma.get("data") or {}), dict(mb.get("data") or {})
    sa_, sb = _steps(ma), _steps(mb)
    ra, rb = _reqs(ma), _reqs(mb)
    pa, pb = dict(ma.get("params") or {}), dict(mb.get("params") or {})
    return {
        "a": {"id": a.id, "pipeline": a.pipeline, "version": a.version, "digest": a.digest},
        "b": {"id": b.id, "pipeline": b.pipeline, "version": b.version, "digest": b.digest},
        "same": a.digest == b.digest,
        "code": {
            "added": sorted(set(cb) - set(ca)),
            "removed": sorted(set(ca) - set(cb)),
            "changed": sorted(k for k in set(ca) & set(cb) if ca[k] != cb[k]),
        },
        "data": {
            "added": sorted(set(db) - set(da)),
            "removed": sorted(set(da) - set(db)),
            "changed": sorted(k for k in set(da) & set(db) if da[k] != db[k]),
        },
        "steps": {
            "added": sorted(set(sb) - set(sa_)),
            "removed": sorted(set(sa_) - set(sb)),
            "changed": sorted(k for k in set(sa_) & set(sb) if sa_[k] != sb[k]),
        },
        "params": {
            k: {"a": pa.get(k), "b": pb.get(k)}
            for k in sorted(set(pa) | set(pb))
            if pa.get(k) != pb.get(k)
        },
        "requirements": {
            "added": sorted(f"{k}=={rb[k]}" for k in set(rb) - set(ra)),
            "removed": sorted(f"{k}=={ra[k]}" for k in set(ra) - set(rb)),
            "changed": {
                k: {"a": ra[k], "b": rb[k]} for k in sorted(set(ra) & set(rb)) if ra[k] != rb[k]
            },
        },
    }


def _steps(manifest: Mapping[str, Any]) -> dict[str, Any]:
    spec = manifest.get("spec") or {}
    steps = spec.get("steps") or []
    if isinstance(steps, dict):
        return dict(steps)
    return {str(s.get("name")): s for s in steps if isinstance(s, dict)}


def _reqs(manifest: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in manifest.get("requirements") or []:
        name, _, version = str(line).partition("==")
        out[name] = version
    return out
