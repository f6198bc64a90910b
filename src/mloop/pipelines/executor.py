"""Execute one step node: cache lookup, inputs, the call (retries, timeout, logs), outputs.

This is where user code is wrapped (the single error boundary): any exception from the step
becomes :class:`StepExecutionError` with the original chained. Outputs are published to the
artifact store first and recorded in the metadata store in one transaction afterwards, so a
crash in between leaves at most an unreferenced artifact, never a reference to a missing one.
"""

from __future__ import annotations

import contextvars
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.artifacts.base import ArtifactStore
from mloop.errors import MloopError, StepExecutionError, StepTimeoutError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, Execution, ExecutionState, Metric
from mloop.pipelines.caching import cache_key
from mloop.pipelines.context import StepContext, step_context
from mloop.pipelines.file_reads import file_artifacts
from mloop.pipelines.fingerprints import Fingerprinter, fingerprinter_for
from mloop.pipelines.graph import StepNode
from mloop.pipelines.logcapture import LazyLogFile, capture_logs
from mloop.pipelines.materializers import load_value, store_value
from mloop.tracking.fluent import run_context

MAX_BACKOFF_S = 60.0  # ceiling of the wait between two attempts, seconds
LOG_FILE = "step.log"

Notify = Callable[[str, Execution], None]


@dataclass
class StepResult:
    """What executing a node produced: its final execution and its outputs (name -> artifact)."""

    execution: Execution
    outputs: dict[str, Artifact] = field(default_factory=dict)
    error: BaseException | None = None


class StepExecutor:
    """Runs step nodes of one run against one pair of stores."""

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        run_id: str,
        *,
        use_cache: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        fingerprints: Fingerprinter | None = None,
    ) -> None:
        self.metadata = metadata
        self.fingerprints = fingerprints or fingerprinter_for(metadata)
        self.artifacts = artifacts
        self.run_id = run_id
        self.use_cache = use_cache
        self.sleep = sleep
        self._metrics_by_run: dict[str, list[Metric]] = {}
        self._environment: str | None = None

    @property
    def environment(self) -> str | None:
        """The run's environment (read once): steps see it in their context."""
        if self._environment is None:
            self._environment = self.metadata.get_run(self.run_id).environment or ""
        return self._environment or None

    def execute(self, node: StepNode, inputs: Mapping[str, Artifact], notify: Notify) -> StepResult:
        """Run ``node`` with upstream ``inputs`` (argument name -> artifact)."""
        step = node.step
        values: dict[str, Any] = {}  # upstream values loaded early (to look for file paths)
        try:
            files = file_artifacts(node, inputs, self.fingerprints, self._load, values)
        except MloopError as exc:  # a declared input file vanished, or could not be read
            return self._refuse(node, exc)
        key = cache_key(step.name, step.code_digest, node.params, inputs, files)
        input_ids = {name: a.id for name, a in inputs.items()}
        input_ids.update((name, a.id) for name, a in files.items())
        file_rows = list({a.id: a for a in files.values()}.values())
        if self.use_cache and step.cache:
            hit = self._cached_outputs(key, step.outputs)
            if hit is not None:
                source, outputs = hit
                ex = self.metadata.create_execution(
                    self.run_id,
                    node.name,
                    state=ExecutionState.CACHED,
                    code_digest=step.code_digest,
                    cache_key=key,
                    params=node.params,
                    inputs=input_ids,
                    cached_from=source.id,
                    input_artifacts=file_rows,
                )
                ex = self.metadata.finish_execution(
                    ex.id, ExecutionState.CACHED, outputs={n: a.id for n, a in outputs.items()}
                )
                self._copy_metrics(source, ex)
                return StepResult(ex, outputs)
        ex = self.metadata.create_execution(
            self.run_id,
            node.name,
            code_digest=step.code_digest,
            cache_key=key,
            params=node.params,
            inputs=input_ids,
            input_artifacts=file_rows,
        )
        notify("start", ex)
        log = LazyLogFile(lambda: self.artifacts.new_staging_dir() / LOG_FILE)
        tries = [0]  # attempts made so far; kept outside the call so a failure still knows it
        try:
            for name, a in inputs.items():
                if name not in values:
                    values[name] = self._load(a)
            kwargs = step.call_params(node.params)
            result = self._call_with_retries(node, ex, {**kwargs, **values}, log, tries)
            outputs = self._store_outputs(node, ex, result)
        except BaseException as exc:  # the boundary: record, then re-raise as ours
            error = _describe(exc)
            log_uri = self._publish_log(log, ex)
            ex = self.metadata.finish_execution(
                ex.id,
                ExecutionState.FAILED,
                error=error,
                attempts=max(tries[0], 1),
                log_uri=log_uri,
            )
            if isinstance(exc, StepExecutionError):
                wrapped: BaseException = exc
            elif isinstance(exc, MloopError):
                wrapped = StepExecutionError(node.name, self.run_id, str(exc))
                wrapped.__cause__ = exc
            elif isinstance(exc, Exception):
                wrapped = StepExecutionError(node.name, self.run_id, error, attempts=tries[0])
                wrapped.__cause__ = exc
            else:  # KeyboardInterrupt, SystemExit: recorded, then let through
                raise
            return StepResult(ex, error=wrapped)
        log_uri = self._publish_log(log, ex)
        ex = self.metadata.finish_execution(
            ex.id,
            ExecutionState.SUCCEEDED,
            new_artifacts=list(outputs.values()),
            outputs={n: a.id for n, a in outputs.items()},
            attempts=tries[0],
            log_uri=log_uri,
        )
        return StepResult(ex, outputs)

    # -- pieces -----------------------------------------------------------------------------------
    def _refuse(self, node: StepNode, exc: MloopError) -> StepResult:
        """Record a failed execution for a step that could not start (its inputs are wrong)."""
        ex = self.metadata.create_execution(
            self.run_id, node.name, code_digest=node.step.code_digest, params=node.params
        )
        ex = self.metadata.finish_execution(ex.id, ExecutionState.FAILED, error=str(exc))
        wrapped = StepExecutionError(node.name, self.run_id, str(exc))
        wrapped.__cause__ = exc
        return StepResult(ex, error=wrapped)

    def _cached_outputs(
        self, key: str, names: tuple[str, ...]
    ) -> tuple[Execution, dict[str, Artifact]] | None:
        """The newest earlier execution with this key whose outputs all still exist."""
        source = self.metadata.find_cached(key)
        if source is None:
            return None
        events = self.metadata.list_events(execution_id=source.id)
        outputs = {
            e.name: self.metadata.get_artifact(e.artifact_id)
            for e in events
            if e.kind.value == "output"
        }
        if set(outputs) != set(names):
            return None
        if not all(self.artifacts.exists(a.uri) for a in outputs.values()):
            return None  # deleted behind our back: never hand out a missing artifact
        return source, outputs

    def _copy_metrics(self, source: Execution, ex: Execution) -> None:
        """A cached step logs again what its source execution logged, so a fully cached run
        still shows its metrics (attributed to the cached execution)."""
        if source.run_id not in self._metrics_by_run:
            self._metrics_by_run[source.run_id] = self.metadata.get_metrics(source.run_id)
        copied = [
            Metric(m.key, m.value, m.step, m.timestamp, execution_id=ex.id)
            for m in self._metrics_by_run[source.run_id]
            if m.execution_id == source.id
        ]
        if copied:
            self.metadata.log_metrics(self.run_id, copied)

    def _load(self, artifact: Artifact) -> Any:
        return load_value(
            self.artifacts, artifact.uri, artifact.materializer, digest=artifact.digest
        )

    def _call_with_retries(
        self,
        node: StepNode,
        ex: Execution,
        kwargs: dict[str, Any],
        log: LazyLogFile,
        tries: list[int],
    ) -> Any:
        step = node.step
        while True:
            tries[0] += 1
            ctx = StepContext(
                self.run_id,
                ex.id,
                node.name,
                tries[0],
                dict(node.params),
                metadata=self.metadata,
                artifacts=self.artifacts,
                environment=self.environment,
            )
            tracking = run_context(
                self.run_id, ex.id, store=self.metadata, artifacts=self.artifacts
            )
            try:
                with capture_logs(log), step_context(ctx), tracking:
                    return self._call(node, kwargs)
            except StepTimeoutError:
                raise
            except Exception:
                if tries[0] > step.retries:
                    raise
                log.write(f"attempt {tries[0]} failed:\n{traceback.format_exc()}\n")
                self.sleep(min(step.retry_backoff_s * 2 ** (tries[0] - 1), MAX_BACKOFF_S))

    def _call(self, node: StepNode, kwargs: dict[str, Any]) -> Any:
        step = node.step
        if step.timeout_s is None:
            return step.func(**kwargs)
        # A thread cannot be killed: on timeout the step is recorded as failed and its result,
        # should it ever come, is dropped (outputs are only published by this thread).
        box: dict[str, Any] = {}
        ctx = contextvars.copy_context()

        def target() -> None:
            try:
                box["value"] = ctx.run(step.func, **kwargs)
            except BaseException as exc:
                box["error"] = exc

        worker = threading.Thread(target=target, name=f"mloop-step-{node.name}", daemon=True)
        worker.start()
        worker.join(step.timeout_s)
        if worker.is_alive():
            raise StepTimeoutError(
                node.name, self.run_id, f"timed out after {step.timeout_s} s (timeout_s)"
            )
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _store_outputs(self, node: StepNode, ex: Execution, result: Any) -> dict[str, Artifact]:
        names = node.step.outputs
        if len(names) == 1:
            values = {names[0]: result}
        else:
            if not isinstance(result, (tuple, list)) or len(result) != len(names):
                raise StepExecutionError(
                    node.name,
                    self.run_id,
                    f"declared outputs {list(names)} but returned "
                    f"{type(result).__name__}; return a tuple of {len(names)} values",
                )
            values = dict(zip(names, result, strict=True))
        outputs: dict[str, Artifact] = {}
        for name, value in values.items():
            stored = store_value(
                value,
                self.artifacts,
                f"runs/{self.run_id}/{node.name}-{ex.id}/{name}",
                allow_pickle=node.step.allow_pickle,
            )
            outputs[name] = Artifact(
                id=new_id(),
                type=stored.artifact_type,
                uri=stored.uri,
                digest=stored.digest,
                size=stored.size,
                created_at=utc_now(),
                materializer=stored.materializer,
                properties={**stored.properties, "materializer_version": stored.version},
            )
        return outputs

    def _publish_log(self, log: LazyLogFile, ex: Execution) -> str | None:
        """Publish the step's captured log, if it wrote any."""
        log.close()
        if log.path is None:
            return None
        try:
            return self.artifacts.put_dir(log.path.parent, f"logs/{self.run_id}/{ex.id}").uri
        except MloopError:
            shutil.rmtree(log.path.parent, ignore_errors=True)
            return None


def _describe(exc: BaseException) -> str:
    """A one-line reason plus the innermost frames of user code, kept short for the store."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(tb[-6:])
    return f"{type(exc).__name__}: {exc}\n{text}"[:8000]
