"""The local runner: steps in this process, one at a time or ``parallel`` at once in threads.

With ``parallel=1`` every step runs in the calling thread, so a debugger and breakpoints work.
With more, independent steps run in a thread pool (NumPy, Polars, scikit-learn and I/O release
the GIL). A heartbeat thread renews the run's lease so that a dead process is noticed
(``reap_abandoned``) and its run can be resumed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from mloop.artifacts.base import ArtifactStore
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, Execution, ExecutionState, Run, RunState
from mloop.pipelines.executor import StepExecutor, StepResult
from mloop.pipelines.graph import PipelineGraph, StepNode
from mloop.pipelines.hooks import RunHook
from mloop.pipelines.runners.base import Runner

DEFAULT_HEARTBEAT_S = 5.0  # seconds between two lease renewals


class LocalRunner(Runner):
    """Runs steps in-process. ``parallel`` is the number of steps that may run at once."""

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        *,
        parallel: int = 1,
        use_cache: bool = True,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.metadata = metadata
        self.artifacts = artifacts
        self.parallel = max(1, int(parallel))
        self.use_cache = use_cache
        self.heartbeat_s = heartbeat_s

    def execute(
        self,
        run: Run,
        graph: PipelineGraph,
        *,
        done: Mapping[str, Mapping[str, Artifact]],
        hooks: Sequence[RunHook],
    ) -> tuple[Run, list[BaseException]]:
        executor = StepExecutor(self.metadata, self.artifacts, run.id, use_cache=self.use_cache)
        state = _Schedule(graph, done)
        events: queue.SimpleQueue[tuple[str, Execution]] = queue.SimpleQueue()

        def call_hooks(kind: str, ex: Execution) -> None:
            for hook in hooks:
                if kind == "start":
                    hook.on_step_start(run, ex)
                else:
                    hook.on_step_end(run, ex)

        def enqueue(kind: str, ex: Execution) -> None:
            events.put((kind, ex))

        def drain() -> None:
            while not events.empty():
                call_hooks(*events.get())

        # Serial steps run in this thread, so hooks are called as events happen; parallel
        # steps report through a queue drained by this thread (hooks never need locks).
        notify = call_hooks if self.parallel == 1 else enqueue

        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run.id, stop), daemon=True)
        beat.start()
        try:
            if self.parallel == 1:
                self._run_serial(executor, state, notify, drain)
            else:
                self._run_parallel(executor, state, notify, drain)
        finally:
            stop.set()
            beat.join(timeout=self.heartbeat_s + 1)
        drain()
        final = RunState.FAILED if state.errors else RunState.SUCCEEDED
        error = str(state.errors[0]) if state.errors else None
        return self.metadata.finish_run(run.id, final, error=error), state.errors

    def _run_serial(
        self, executor: StepExecutor, state: _Schedule, notify: Any, drain: Any
    ) -> None:
        for node in state.pending():
            if state.blocked(node):
                notify("end", state.skip(self.metadata, executor.run_id, node))
            else:
                state.record(node, executor.execute(node, state.inputs_of(node), notify), notify)
            drain()

    def _run_parallel(
        self, executor: StepExecutor, state: _Schedule, notify: Any, drain: Any
    ) -> None:
        running: dict[Future[StepResult], StepNode] = {}
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="mloop-step") as pool:
            while True:
                started = {n.name for n in running.values()}
                for node in state.pending():
                    if node.name in started or not state.upstream_finished(node):
                        continue
                    if state.blocked(node):
                        notify("end", state.skip(self.metadata, executor.run_id, node))
                        continue
                    if len(running) < self.parallel:
                        future = pool.submit(executor.execute, node, state.inputs_of(node), notify)
                        running[future] = node
                        started.add(node.name)
                drain()
                if not running:
                    if not state.pending():
                        return
                    continue
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    node = running.pop(future)
                    state.record(node, future.result(), notify)
                drain()

    def _beat(self, run_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                self.metadata.heartbeat(run_id)
            except Exception:  # a missed beat is retried next period; never kill the run
                continue


class _Schedule:
    """Which steps are done, failed or still to run, and the outputs produced so far."""

    def __init__(self, graph: PipelineGraph, done: Mapping[str, Mapping[str, Artifact]]) -> None:
        self.graph = graph
        self.outputs: dict[str, dict[str, Artifact]] = {k: dict(v) for k, v in done.items()}
        self.failed: set[str] = set()
        self.errors: list[BaseException] = []

    def pending(self) -> list[StepNode]:
        return [n for n in self.graph if n.name not in self.outputs and n.name not in self.failed]

    def upstream_finished(self, node: StepNode) -> bool:
        return all(up in self.outputs or up in self.failed for up in node.upstream)

    def blocked(self, node: StepNode) -> bool:
        """True when an upstream step failed (or was skipped): this step cannot run."""
        return any(up in self.failed for up in node.upstream)

    def inputs_of(self, node: StepNode) -> dict[str, Artifact]:
        return {arg: self.outputs[ref.step][ref.output] for arg, ref in node.inputs.items()}

    def record(self, node: StepNode, result: StepResult, notify: Any) -> None:
        if result.error is not None or not result.execution.state.done_ok:
            self.failed.add(node.name)
            if result.error is not None:
                self.errors.append(result.error)
        else:
            self.outputs[node.name] = result.outputs
        notify("end", result.execution)

    def skip(self, metadata: MetadataStore, run_id: str, node: StepNode) -> Execution:
        self.failed.add(node.name)
        ex = metadata.create_execution(
            run_id, node.name, state=ExecutionState.SKIPPED, params=node.params
        )
        return metadata.finish_execution(
            ex.id, ExecutionState.SKIPPED, error="an upstream step failed"
        )
