"""Check (b) of ``mloop ci``: a smoke run of a pipeline on its sample config, into a throwaway
store (a temporary SQLite database and artifact folder), through the public pipeline API.

While the run lasts, ``MLOOP_METADATA_URL`` and ``MLOOP_ARTIFACT_ROOT`` point at the throwaway
store as well, so that whatever a step resolves from the project's settings by itself (the
registry a ``push`` registers into, the ``models:/`` baseline of ``evaluate``, the subprocess
``infra_validate`` starts) lands there too: CI never writes into, nor reads from, a real store.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mloop.config import Settings
from mloop.metadata.base import MetadataStore
from mloop.pipelines.graph import PipelineGraph
from mloop.pipelines.run_handle import RunHandle

__all__ = ["SmokeRun", "smoke_run", "throwaway_settings"]

_OVERRIDES = ("MLOOP_METADATA_URL", "MLOOP_ARTIFACT_ROOT")


@dataclass
class SmokeRun:
    """One smoke run: its graph (None when the pipeline would not load or compile), its handle
    (None when it did not start), the error that ended it, and its duration in seconds."""

    pipeline: str
    params: dict[str, Any]
    graph: PipelineGraph | None
    handle: RunHandle | None
    error: str | None
    duration_s: float
    settings: Settings

    @property
    def store(self) -> MetadataStore:
        from mloop.metadata import connect

        return connect(self.settings.metadata_url)


def throwaway_settings(settings: Settings, folder: Path) -> Settings:
    """``settings`` with metadata in ``folder/mloop.db`` and artifacts in ``folder/artifacts``
    (the local runner: a smoke run needs no cluster)."""
    return dataclasses.replace(
        settings,
        metadata_url=f"sqlite:///{folder / 'mloop.db'}",
        artifact_root=str(folder / "artifacts"),
        runner={"type": "local"},
    )


@contextmanager
def _stores_pointed_at(settings: Settings) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in _OVERRIDES}
    os.environ["MLOOP_METADATA_URL"] = settings.metadata_url
    os.environ["MLOOP_ARTIFACT_ROOT"] = settings.artifact_root
    cwd = Path.cwd()
    os.chdir(settings.project_dir)  # relative data paths mean what they mean for `mloop run`
    try:
        yield
    finally:
        os.chdir(cwd)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def smoke_run(
    name: str,
    entrypoint: str,
    params: Mapping[str, Any],
    settings: Settings,
    folder: Path,
) -> SmokeRun:
    """Load ``entrypoint``, compile it with ``params`` and run it once into a throwaway store
    under ``folder``; a failure is recorded in the result, never raised."""
    from mloop.pipelines.launch import launch
    from mloop.pipelines.loading import load_pipeline

    local = throwaway_settings(settings, folder)
    started = time.monotonic()
    graph = handle = None
    error = None
    with _stores_pointed_at(local):
        try:
            target = load_pipeline(_anchor(entrypoint, settings.project_dir))
            graph = target.compile(**params)
            handle = launch(
                target,
                params,
                settings=local,
                cache=False,
                trigger="ci",
                raise_on_failure=False,
            )
            if handle.state.value != "succeeded":
                error = handle.run.error or f"the run ended {handle.state.value}"
        except Exception as exc:  # user code: any failure is a finding of the smoke check
            error = f"{type(exc).__name__}: {exc}"
    return SmokeRun(
        name, dict(params), graph, handle, error, time.monotonic() - started, settings=local
    )


def _anchor(ref: str, project_dir: Path) -> str:
    """A ``file.py:function`` reference made absolute against the project folder."""
    path, sep, func = ref.rpartition(":")
    if not sep or not path.endswith(".py") or Path(path).is_absolute():
        return ref
    return f"{project_dir / path}:{func}"
