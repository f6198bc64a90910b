"""Which model versions a pipeline package produced: the versions registered (by its ``push``
step) in the runs of that exact package (runs tagged with its digest by the launcher), in the
environments where it ran. The metrics and expected-outputs gates check these versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mloop.cicd.environments import Environment
from mloop.metadata.entities import RunState
from mloop.metadata.model_registry import ModelVersion
from mloop.pipelines.packaged import PACKAGE_TAG, PIPELINE_TAG

__all__ = ["PackageModel", "package_models", "package_run_ids"]

PAGE = 500


@dataclass(frozen=True)
class PackageModel:
    """A model version and the environment whose registry holds it."""

    environment: Environment
    version: ModelVersion

    @property
    def label(self) -> str:
        return f"{self.version.model_uri} (in {self.environment.name})"


def package_run_ids(env: Environment, pipeline: str, digest: str) -> list[str]:
    """Ids of the succeeded runs in ``env`` of the package ``digest`` of ``pipeline``, newest
    first (runs the launcher tagged with that digest; any pipeline function name)."""
    ids: list[str] = []
    offset = 0
    while True:  # the tag filter is in the query: only this package's runs are read
        runs = env.store.search_runs(
            states=[RunState.SUCCEEDED], tags={PACKAGE_TAG: digest}, limit=PAGE, offset=offset
        )
        ids += [r.id for r in runs if r.tags.get(PIPELINE_TAG, pipeline) == pipeline]
        if len(runs) < PAGE:
            return ids
        offset += PAGE


def package_models(
    environments: Sequence[Environment], pipeline: str, digest: str, model: str | None = None
) -> list[PackageModel]:
    """The newest version of each model (or of ``model`` only) that runs of the package
    registered, from the first environment of ``environments`` that has any."""
    for env in environments:
        runs = set(package_run_ids(env, pipeline, digest))
        if not runs:
            continue
        rows = env.store.model_registry()
        names = [model] if model else [m.name for m in rows.search_models()]
        found: list[PackageModel] = []
        for name in names:
            try:
                versions = rows.list_versions(name)
            except LookupError:  # the named model does not exist in this registry
                continue
            mine = [v for v in versions if v.run_id in runs]
            if mine:
                found.append(PackageModel(env, max(mine, key=lambda v: v.version)))
        if found:
            return found
    return []
