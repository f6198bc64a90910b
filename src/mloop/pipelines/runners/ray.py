"""The Ray runner: every step a Ray task with the step's resource request, on a Ray cluster.

``runner: {type: ray, address: ray://head:10001}`` in ``mloop.yaml`` (or no address: a local
Ray instance is started). The driver (this process) keeps the schedule, the run's heartbeat
and the hooks; each task runs the very :class:`~mloop.pipelines.executor.StepExecutor` the
local runner uses, against the run's metadata store and artifact store (opened by URL on the
worker), so caching, lineage, retries, timeouts and logs are the same code, not a copy. Step
outputs travel through the artifact store (S3 on a cluster), never through Ray's object store,
so a lost node loses no result that was recorded.

Faults: user exceptions are retried by the executor inside the task (``retries=``). A worker
process or node that dies mid-step is an infrastructure fault: the execution it was running is
marked ABANDONED and the step is submitted again, up to ``worker_retries`` times (Ray's own
task retries are off, so the record shows every attempt). A killed driver leaves a RUNNING run
whose lease runs out; ``mloop run --resume`` continues it, on Ray or locally.
"""

from __future__ import annotations

import importlib.machinery
import os
import pickle
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mloop.artifacts.base import ArtifactStore
from mloop.errors import ConfigError, MloopError, StepExecutionError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, Execution, ExecutionState, Run, RunState
from mloop.pipelines.executor import StepExecutor, StepResult
from mloop.pipelines.graph import PipelineGraph, StepNode
from mloop.pipelines.hooks import RunHook
from mloop.pipelines.runners.base import Runner
from mloop.pipelines.runners.local import DEFAULT_HEARTBEAT_S, _Schedule

__all__ = ["RayRunner", "RayRunnerConfig"]

DEFAULT_WORKER_RETRIES = 3  # resubmissions of a step whose worker process or node died
POLL_S = 0.2  # seconds between two looks at finished tasks and step-start events


class RayRunnerConfig(BaseModel):
    """``runner:`` settings of the Ray runner (``mloop.yaml``).

    ``address``: the cluster (``auto``, ``127.0.0.1:6379``, ``ray://head:10001``); None starts
    a local Ray instance. ``worker_retries``: resubmissions after a worker or node died.
    ``runtime_env``: Ray's runtime environment for the tasks (env vars, pip packages).
    ``init``: further ``ray.init`` keyword arguments (e.g. ``num_cpus`` for a local instance).
    ``wait_for_resources``: submit steps no current node can hold (an autoscaler adds nodes);
    by default such a step fails at once instead of waiting forever.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["ray"] = "ray"
    address: str | None = None
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    worker_retries: int = DEFAULT_WORKER_RETRIES
    runtime_env: dict[str, Any] | None = None
    init: dict[str, Any] = {}
    wait_for_resources: bool = False


class RayRunner(Runner):
    """Runs each step as a Ray task; independent steps run at once as the cluster allows."""

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        *,
        parallel: int = 1,
        use_cache: bool = True,
        address: str | None = None,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        worker_retries: int = DEFAULT_WORKER_RETRIES,
        runtime_env: Mapping[str, Any] | None = None,
        init: Mapping[str, Any] | None = None,
        wait_for_resources: bool = False,
    ) -> None:
        # ``parallel`` is the local runner's knob; on Ray the cluster's resources decide.
        self.metadata = metadata
        self.artifacts = artifacts
        self.use_cache = use_cache
        self.address = address
        self.heartbeat_s = heartbeat_s
        if worker_retries < 0:
            raise ConfigError(f"runner.worker_retries must be >= 0, got {worker_retries}")
        self.worker_retries = int(worker_retries)
        self.runtime_env = dict(runtime_env) if runtime_env else None
        self.init_options = dict(init or {})
        self.wait_for_resources = bool(wait_for_resources)
        self._nodes: list[dict[str, float]] = []  # resources of each live node, last seen

    @classmethod
    def from_config(
        cls, config: RayRunnerConfig, metadata: MetadataStore, artifacts: ArtifactStore
    ) -> RayRunner:
        """A runner built from its config."""
        return cls(
            metadata,
            artifacts,
            address=config.address,
            heartbeat_s=config.heartbeat_s,
            worker_retries=config.worker_retries,
            runtime_env=config.runtime_env,
            init=config.init,
            wait_for_resources=config.wait_for_resources,
        )

    # -- Runner ------------------------------------------------------------------------------------
    def execute(
        self,
        run: Run,
        graph: PipelineGraph,
        *,
        done: Mapping[str, Mapping[str, Artifact]],
        hooks: Sequence[RunHook],
    ) -> tuple[Run, list[BaseException]]:
        ray = self._connect()
        from ray.util.queue import Queue

        _prepare(graph)
        self._nodes = _node_resources(ray)
        state = _Schedule(graph, done)
        # Step starts come back through a queue actor, only when some hook wants them.
        events = Queue(actor_options={"num_cpus": 0}) if hooks else None
        # A timed-out step's thread cannot be stopped; a step with a timeout runs in a worker
        # used once (max_calls=1), whose process, with any runaway thread, exits afterwards.
        tasks = (ray.remote(_run_step), ray.remote(max_calls=1)(_run_step))
        job = _Job(
            metadata_url=self.metadata.url,
            artifact_root=self.artifacts.root,
            run_id=run.id,
            use_cache=self.use_cache,
            cwd=os.getcwd(),
            paths=_module_folders(graph),
        )

        def notify(kind: str, ex: Execution) -> None:
            for hook in hooks:
                if kind == "start":
                    hook.on_step_start(run, ex)
                else:
                    hook.on_step_end(run, ex)

        def drain() -> None:
            while events is not None and not events.empty():
                kind, ex = events.get_nowait()
                notify(kind, ex)

        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run.id, stop), daemon=True)
        beat.start()
        running: dict[Any, tuple[StepNode, int]] = {}
        try:
            while True:
                started = {node.name for node, _ in running.values()}
                for node in state.pending():
                    if node.name in started or not state.upstream_finished(node):
                        continue
                    if state.blocked(node):
                        notify("end", state.skip(self.metadata, run.id, node))
                        continue
                    refused = self._infeasible(ray, node, run.id)
                    if refused is not None:
                        state.record(node, refused, notify)
                        continue
                    ref = self._submit(tasks, node, state.inputs_of(node), job, events)
                    running[ref] = (node, 0)
                    started.add(node.name)
                drain()
                if not running:
                    if not state.pending():
                        break
                    continue
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                drain()
                for ref in ready:
                    node, crashes = running.pop(ref)
                    result = self._collect(ray, ref, node, crashes, run.id)
                    if result is None:  # the worker died: the step goes again
                        again = self._submit(tasks, node, state.inputs_of(node), job, events)
                        running[again] = (node, crashes + 1)
                    else:
                        state.record(node, result, notify)
                drain()
        finally:
            for ref in running:  # Ctrl-C or a hook that raised: do not leave tasks behind
                ray.cancel(ref, force=True)
            stop.set()
            beat.join(timeout=self.heartbeat_s + 1)
            try:
                drain()
            finally:
                if events is not None:
                    ray.kill(events.actor)
        final = RunState.FAILED if state.errors else RunState.SUCCEEDED
        error = str(state.errors[0]) if state.errors else None
        return self.metadata.finish_run(run.id, final, error=error), state.errors

    # -- pieces ------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "the Ray runner needs Ray: pip install 'mloop[ray]' (or set runner.type: local)"
            ) from exc
        if not ray.is_initialized():
            options: dict[str, Any] = {"namespace": "mloop", **self.init_options}
            if self.runtime_env:
                options["runtime_env"] = self.runtime_env
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"cannot connect to the Ray cluster at {self.address or 'a local instance'}: "
                    f"{exc}; check runner.address in mloop.yaml and that the cluster is up"
                ) from exc
        return ray

    def _submit(
        self,
        tasks: tuple[Any, Any],
        node: StepNode,
        inputs: dict[str, Artifact],
        job: _Job,
        events: Any,
    ) -> Any:
        res = node.step.resources
        options: dict[str, Any] = {
            "num_cpus": res.cpu,
            "num_gpus": res.gpu,
            "max_retries": 0,  # worker deaths are retried here, with a record of each
            "retry_exceptions": False,
            "name": f"mloop:{node.name}",
        }
        if res.memory:
            options["memory"] = res.memory
        if res.custom:
            options["resources"] = dict(res.custom)
        task = tasks[1] if node.step.timeout_s is not None else tasks[0]
        return task.options(**options).remote(job, node, inputs, events)

    def _collect(
        self, ray: Any, ref: Any, node: StepNode, crashes: int, run_id: str
    ) -> StepResult | None:
        """The task's result; None when its worker died and the step may run again."""
        from ray import exceptions as rx

        try:
            portable: _PortableResult = ray.get(ref)
            return portable.restore()
        except (rx.WorkerCrashedError, rx.NodeDiedError, rx.LocalRayletDiedError) as exc:
            reason = f"the Ray worker running it died ({type(exc).__name__})"
            self._abandon_open(run_id, node.name, reason)
            if crashes < self.worker_retries:
                return None
            limit = self.worker_retries
            detail = f"{reason}, {crashes + 1} times (runner.worker_retries = {limit})"
            return self._failed(node, run_id, detail, exc)
        except rx.RayError as exc:  # the task could not run at all (e.g. unpickling the step)
            self._abandon_open(run_id, node.name, f"the Ray task failed: {type(exc).__name__}")
            return self._failed(node, run_id, f"the Ray task failed: {exc}", exc)

    def _abandon_open(self, run_id: str, step_name: str, reason: str) -> None:
        for ex in self.metadata.list_executions(run_id):
            if ex.step_name == step_name and ex.state is ExecutionState.RUNNING:
                self.metadata.finish_execution(ex.id, ExecutionState.ABANDONED, error=reason)

    def _failed(
        self, node: StepNode, run_id: str, detail: str, cause: BaseException | None
    ) -> StepResult:
        ex = self.metadata.create_execution(
            run_id, node.name, code_digest=node.step.code_digest, params=node.params
        )
        ex = self.metadata.finish_execution(ex.id, ExecutionState.FAILED, error=detail)
        error = StepExecutionError(node.name, run_id, detail)
        error.__cause__ = cause
        return StepResult(ex, error=error)

    def _infeasible(self, ray: Any, node: StepNode, run_id: str) -> StepResult | None:
        """A failed result when no node of the cluster could ever hold the step's request
        (Ray would wait forever); None when it fits."""
        if self.wait_for_resources:
            return None
        res = node.step.resources
        wanted = {"CPU": res.cpu, "GPU": res.gpu, **res.custom}
        if res.memory:
            wanted["memory"] = float(res.memory)

        def fits(nodes: list[dict[str, float]]) -> bool:
            return any(all(have.get(k, 0.0) >= v for k, v in wanted.items() if v) for have in nodes)

        if fits(self._nodes):
            return None
        self._nodes = _node_resources(ray)  # nodes may have joined since we last looked
        if fits(self._nodes):
            return None
        detail = (
            f"no node of the Ray cluster has the resources it asks for "
            f"({res.as_dict()}); lower @step(resources=...) or add a bigger node"
        )
        return self._failed(node, run_id, detail, None)

    def _beat(self, run_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                self.metadata.heartbeat(run_id)
            except Exception:  # a missed beat is retried next period; never kill the run
                continue


def _node_resources(ray: Any) -> list[dict[str, float]]:
    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


# -- the task -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """What every task of one run needs to open the run's stores on its worker."""

    metadata_url: str
    artifact_root: str
    run_id: str
    use_cache: bool
    cwd: str
    paths: tuple[str, ...]


def _run_step(job: _Job, node: StepNode, inputs: dict[str, Artifact], events: Any) -> Any:
    """Ray task body: the local runner's StepExecutor, on the worker."""
    from mloop.artifacts import connect as connect_artifacts
    from mloop.metadata import connect as connect_metadata

    for folder in job.paths:  # the pipeline file's folder, for its sibling imports
        if folder not in sys.path and os.path.isdir(folder):
            sys.path.insert(0, folder)
    if os.path.isdir(job.cwd):  # same machine or a shared file system: relative paths work
        os.chdir(job.cwd)
    metadata = connect_metadata(job.metadata_url)
    artifacts = connect_artifacts(job.artifact_root)
    executor = StepExecutor(metadata, artifacts, job.run_id, use_cache=job.use_cache)

    def notify(kind: str, ex: Execution) -> None:
        if events is not None:
            events.put((kind, ex))

    return _PortableResult.of(executor.execute(node, inputs, notify))


@dataclass
class _PortableError:
    """An exception that survives pickling: mloop errors take keyword-only fields in
    ``__init__``, which plain exception pickling cannot call again."""

    cls: type[BaseException]
    message: str
    fields: dict[str, Any]
    cause: BaseException | None

    @classmethod
    def of(cls, exc: BaseException) -> _PortableError:
        return cls(type(exc), str(exc), dict(vars(exc)), _picklable(exc.__cause__))

    def restore(self) -> BaseException:
        exc = self.cls.__new__(self.cls)
        BaseException.__init__(exc, self.message)
        exc.__dict__.update(self.fields)
        exc.__cause__ = self.cause
        return exc


def _picklable(exc: BaseException | None) -> BaseException | None:
    """``exc`` when it pickles and unpickles, else a RuntimeError with its text."""
    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        if isinstance(exc, MloopError):
            return RuntimeError(f"{type(exc).__name__}: {exc}")
        return RuntimeError(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")


@dataclass
class _PortableResult:
    execution: Execution
    outputs: dict[str, Artifact]
    error: _PortableError | None

    @classmethod
    def of(cls, result: StepResult) -> _PortableResult:
        error = _PortableError.of(result.error) if result.error is not None else None
        return cls(result.execution, result.outputs, error)

    def restore(self) -> StepResult:
        error = self.error.restore() if self.error is not None else None
        return StepResult(self.execution, self.outputs, error)


# -- shipping user code ---------------------------------------------------------------------
def _prepare(graph: PipelineGraph) -> None:
    """Compute what the steps compute lazily from their source (a worker may not have the
    file), and ship modules a worker cannot import by name (pipeline files loaded by path)
    by value."""
    from ray import cloudpickle

    for node in graph:
        step = node.step
        step.code_digest  # noqa: B018 - cached on the step object, which travels
        step.file_params  # noqa: B018
        step.call_params({})
        module = sys.modules.get(getattr(step.func, "__module__", "") or "")
        if module is not None and module.__name__ != "__main__" and not _importable(module):
            cloudpickle.register_pickle_by_value(module)


def _importable(module: Any) -> bool:
    """True when a worker with the same sys.path can import ``module`` by its name."""
    top = module.__name__.partition(".")[0]
    if top in sys.builtin_module_names:
        return True
    try:
        return importlib.machinery.PathFinder.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _module_folders(graph: PipelineGraph) -> tuple[str, ...]:
    folders: list[str] = []
    for node in graph:
        module = sys.modules.get(getattr(node.step.func, "__module__", "") or "")
        path = getattr(module, "__file__", None)
        if path:
            folder = str(Path(path).resolve().parent)
            if folder not in folders:
                folders.append(folder)
    return tuple(folders)
