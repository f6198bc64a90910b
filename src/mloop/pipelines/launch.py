"""Start or resume a pipeline run: settings -> stores -> run row -> runner -> handle.

Resuming reopens the same run: steps whose last execution succeeded (or was cached) keep their
outputs, every other step runs again as a new execution, and the failed or abandoned executions
stay in the record as history.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mloop import plugins
from mloop._utils.clock import as_utc, utc_now
from mloop.artifacts import connect as connect_artifacts
from mloop.artifacts.base import ArtifactStore
from mloop.config import Settings, load_settings
from mloop.errors import MloopError, PipelineDefinitionError, StepExecutionError
from mloop.metadata import connect as connect_metadata
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, EventKind, Execution, Run, RunState
from mloop.pipelines.file_reads import check_declared_inputs, stale_on_resume
from mloop.pipelines.fingerprints import Fingerprinter, fingerprinter_for
from mloop.pipelines.graph import PipelineGraph
from mloop.pipelines.hooks import RunHook
from mloop.pipelines.materializers import load_value
from mloop.pipelines.run_handle import RunHandle

if TYPE_CHECKING:
    from mloop.pipelines.dsl import Pipeline

DEFAULT_LEASE_S = 60.0  # a run whose heartbeat is older than this is taken as dead, seconds


def launch(
    pipeline: Pipeline,
    params: Mapping[str, Any],
    *,
    resume: str | None = None,
    parallel: int = 1,
    hooks: Sequence[RunHook] = (),
    settings: Settings | None = None,
    cache: bool = True,
    trigger: str | None = None,
    raise_on_failure: bool = True,
) -> RunHandle:
    settings = settings or load_settings()
    metadata = connect_metadata(settings.metadata_url)
    artifacts = connect_artifacts(settings.artifact_root)
    runner_cfg = dict(settings.runner or {})
    lease_s = float(runner_cfg.pop("lease_s", DEFAULT_LEASE_S))
    metadata.reap_abandoned(lease_s)

    fingerprints = fingerprinter_for(metadata)
    if resume:
        run, graph, done = _reopen(pipeline, metadata, resume, params, lease_s)
        cache = cache and run.options.get("cache", True) is not False  # the run's own choice
        done = _drop_stale(run.id, graph, done, metadata, artifacts, fingerprints)
    else:
        graph = pipeline.compile(**params)
        check_declared_inputs(graph)
        metadata.upsert_pipeline(graph.name, graph.version, graph.spec())
        run = metadata.create_run(
            pipeline.experiment,
            pipeline_name=graph.name,
            pipeline_version=graph.version,
            pipeline_params=graph.params,
            trigger=trigger,
            environment=settings.environment,
            host=fingerprints.host,
            pid=os.getpid(),
            options={"cache": bool(cache), "parallel": int(parallel)},
        )
        done = {}

    runner_cls = plugins.load("runners", str(runner_cfg.pop("type", "local")))
    runner = runner_cls(metadata, artifacts, parallel=parallel, use_cache=cache, **runner_cfg)
    for hook in hooks:
        hook.on_run_start(run, graph)
    try:
        run, errors = runner.execute(run, graph, done=done, hooks=hooks)
    except BaseException as exc:  # Ctrl-C or a runner bug: record it, never leave it "running"
        metadata.finish_run(run.id, RunState.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    for hook in hooks:
        hook.on_run_end(run)
    handle = RunHandle(run.id, metadata, artifacts)
    if errors and raise_on_failure:
        first = errors[0]
        if isinstance(first, StepExecutionError):
            raise first
        raise StepExecutionError("?", run.id, str(first)) from first
    return handle


def _reopen(
    pipeline: Pipeline,
    metadata: MetadataStore,
    run_id: str,
    params: Mapping[str, Any],
    lease_s: float,
) -> tuple[Run, PipelineGraph, dict[str, dict[str, Artifact]]]:
    run = metadata.get_run(run_id)
    if run.pipeline_name != pipeline.name:
        raise PipelineDefinitionError(
            f"run {run.id} is a run of {run.pipeline_name!r}, not of {pipeline.name!r}"
        )
    if run.state is RunState.RUNNING:
        if process_gone(run.host, run.pid):
            metadata.abandon_runs([run.id])  # killed (kill -9, power cut): no need to wait
        else:
            beat = as_utc(run.heartbeat_at or run.started_at)
            if utc_now() - beat < timedelta(seconds=lease_s):
                where = f" by pid {run.pid} on {run.host}" if run.pid else ""
                raise MloopError(
                    f"run {run.id} is still running{where} (last heartbeat {beat:%H:%M:%S} "
                    "UTC); wait for it to finish, or resume it once its process is gone"
                )
    if params and dict(params) != {k: v for k, v in run.pipeline_params.items() if k in params}:
        raise PipelineDefinitionError(
            f"--resume reuses the parameters of run {run.id}; start a new run to change them"
        )
    graph = pipeline.compile(**run.pipeline_params)
    if graph.version != run.pipeline_version:
        changed = _changed_steps(metadata, run, graph)
        raise PipelineDefinitionError(
            f"pipeline {pipeline.name!r} changed since run {run.id} started "
            f"(steps {changed}); start a new run instead: unchanged steps come from the cache"
        )
    done: dict[str, dict[str, Artifact]] = {}
    for ex in metadata.list_executions(run.id):  # creation order: the newest wins
        if ex.state.done_ok:
            done[ex.step_name] = {
                e.name: metadata.get_artifact(e.artifact_id)
                for e in metadata.list_events(execution_id=ex.id)
                if e.kind is EventKind.OUTPUT
            }
    check_declared_inputs(graph)
    run = metadata.reopen_run(run.id, host=socket.gethostname(), pid=os.getpid())
    return run, graph, done


def _drop_stale(
    run_id: str,
    graph: PipelineGraph,
    done: dict[str, dict[str, Artifact]],
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    fingerprints: Fingerprinter,
) -> dict[str, dict[str, Artifact]]:
    """``done`` without the steps whose input files changed since they ran (and what is
    downstream of them): a resume must not reuse outputs computed from older file contents."""
    if not done:
        return done
    last_ok: dict[str, Execution] = {}
    for ex in metadata.list_executions(run_id):
        if ex.state.done_ok:
            last_ok[ex.step_name] = ex
    stale = stale_on_resume(
        graph,
        done,
        last_ok,
        metadata,
        fingerprints,
        lambda a: load_value(artifacts, a.uri, a.materializer, digest=a.digest),
    )
    return {name: outs for name, outs in done.items() if name not in stale}


def process_gone(host: str | None, pid: int | None) -> bool:
    """True when ``pid`` is known to be dead: it ran on this host and no such process exists.
    False when unknown (another host, no pid recorded, or a process we may not signal)."""
    if not host or not pid or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, owned by someone else
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers signal 0 (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _changed_steps(metadata: MetadataStore, run: Run, graph: PipelineGraph) -> list[str]:
    """Names of steps whose code differs from what the run recorded (for the error message)."""
    recorded = {ex.step_name: ex.code_digest for ex in metadata.list_executions(run.id)}
    changed = [
        n.name for n in graph if recorded.get(n.name, n.step.code_digest) != n.step.code_digest
    ]
    return changed or ["wiring or parameters"]
