"""The fluent tracking API: ``start_run``, ``log_params``, ``log_metrics``, ``set_tags``, ...

The active run lives in a ``contextvars.ContextVar``, so every thread (and every asyncio task)
sees its own: a pipeline runner can run steps in threads, each inside :func:`run_context`, and
``mloop.log_metrics`` in a step records on that step's execution. A new thread starts with no
active run (as in MLflow); give it one with :func:`run_context`.

Metric values are buffered (see ``batching.py``) and written in one transaction per batch; the
buffer is flushed when a run ends (in the transaction that ends it), when a :func:`run_context`
exits, at interpreter exit, and by :func:`flush`. Params and tags are written at once.

Async logging (opt-in: ``start_run(async_logging=True)``, ``MLOOP_ASYNC_LOGGING=1`` or
``tracking: {async_logging: true}``; see ``write_behind.py``): a run started so has its start,
params, tags, metrics and end queued and written behind, many runs per transaction. Runs made
active by :func:`run_context` (pipeline steps) are never written behind.

Non-finite values: NaN and +/-inf are accepted and stored; NaN reads back as NaN (stored as
NULL) and never passes a metric filter. Non-numbers raise ``ValidationError`` naming the key.
"""

from __future__ import annotations

import logging
import numbers
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.artifacts.base import ArtifactStore
from mloop.errors import ValidationError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, ExecutionState, Metric, Run, RunState
from mloop.metadata.run_writes import RunFinish, RunWrites
from mloop.tracking import write_behind
from mloop.tracking.batching import MetricBuffer
from mloop.tracking.logging_mode import async_logging_enabled
from mloop.tracking.write_behind import WriteBehindWriter

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metrics",
    "log_params",
    "run_context",
    "set_tags",
    "start_run",
]

PARENT_TAG = "mloop.parent_run_id"
"""Tag set on a run started while another run was active in the same context."""
ARTIFACT_TAG_PREFIX = "mloop.artifact."
"""``mloop.artifact.<name>`` = artifact id, for each file logged with :func:`log_artifact`."""


@dataclass
class _Binding:
    """What "the active run" means in one context: a run, maybe an execution, a buffer."""

    run_id: str
    execution_id: str | None
    owned: bool  # started by start_run: ending it finishes the run
    store_arg: MetadataStore | None = None
    artifacts_arg: ArtifactStore | None = None
    previous: _Binding | None = None
    token: Token[_Binding | None] | None = None
    writer: WriteBehindWriter | None = None  # set for a run started with async logging
    ended: bool = False  # by end_run inside its with-block: leaving the block keeps that state
    buffer: MetricBuffer = field(init=False)

    def __post_init__(self) -> None:
        self.buffer = MetricBuffer(self.store, self.run_id)

    def store(self) -> MetadataStore:
        if self.store_arg is None:
            self.store_arg = _default_store()
        return self.store_arg

    def artifacts(self) -> ArtifactStore:
        if self.artifacts_arg is None:
            self.artifacts_arg = _default_artifacts()
        return self.artifacts_arg


log = logging.getLogger("mloop.tracking")
_current: ContextVar[_Binding | None] = ContextVar("mloop_active_run", default=None)
# Set while a step runs as a plain function call with no active run (a unit test, a notebook):
# the step's own log_params / log_metrics / set_tags have nowhere to go and are dropped (logged
# at INFO) instead of failing the call. Outside such a call they still raise.
_plain_step: ContextVar[str | None] = ContextVar("mloop_plain_step", default=None)


class ActiveRun:
    """A handle on the active run. As a context manager, leaving the block ends the run:
    SUCCEEDED, or FAILED if an exception escapes (the exception is not swallowed); a run
    already ended inside the block with :func:`end_run` keeps the state given there."""

    def __init__(self, binding: _Binding) -> None:
        self._binding = binding

    @property
    def id(self) -> str:
        return self._binding.run_id

    @property
    def execution_id(self) -> str | None:
        return self._binding.execution_id

    @property
    def store(self) -> MetadataStore:
        return self._binding.store()

    @property
    def info(self) -> Run:
        """The run as stored now (state, times, tags); flushes its queued writes first."""
        write_behind.settle()
        return self.store.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            _end(self._binding, RunState.SUCCEEDED, None)
        else:
            _end(self._binding, RunState.FAILED, f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r})"


def start_run(
    experiment: str = "default",
    *,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    store: MetadataStore | None = None,
    artifacts: ArtifactStore | None = None,
    async_logging: bool | None = None,
) -> ActiveRun:
    """Create a RUNNING run and make it active in the current context.

    ``store`` defaults to ``connect(load_settings().metadata_url)``; ``artifacts`` (for
    :func:`log_artifact`) to the project's artifact root. A run started while another is active
    is nested: it carries the tag ``mloop.parent_run_id`` and the outer run is active again after.
    ``async_logging``: write this run behind (None: ``MLOOP_ASYNC_LOGGING``, then mloop.yaml).
    """
    previous = _current.get()
    md = store or (previous.store() if previous is not None else _default_store())
    all_tags = {**({PARENT_TAG: previous.run_id} if previous else {}), **dict(tags or {})}
    writer = write_behind.writer_for(md) if async_logging_enabled(async_logging) else None
    if writer is not None:
        run = writer.create_run(experiment, name=run_name, tags=all_tags)
    else:
        run = md.create_run(experiment, name=run_name, tags=all_tags, leased=False)
    binding = _Binding(run.id, None, owned=True, store_arg=md, artifacts_arg=artifacts)
    binding.writer = writer
    binding.previous = previous
    binding.token = _current.set(binding)
    return ActiveRun(binding)


def end_run(state: RunState = RunState.SUCCEEDED, *, error: str | None = None) -> None:
    """End the active run started by :func:`start_run`: flush its metrics, set its final state."""
    binding = _current.get()
    if binding is None:
        raise ValidationError("end_run: there is no active run; start one with mloop.start_run()")
    if not binding.owned:
        raise ValidationError(
            f"end_run: run {binding.run_id} was made active by run_context, which ends it itself"
        )
    _end(binding, RunState(state), error)


def active_run() -> ActiveRun | None:
    """The run active in the current context, or None."""
    binding = _current.get()
    return None if binding is None else ActiveRun(binding)


@contextmanager
def run_context(
    run_id: str,
    execution_id: str | None = None,
    *,
    store: MetadataStore | None = None,
    artifacts: ArtifactStore | None = None,
) -> Iterator[ActiveRun]:
    """Make an EXISTING run active inside the block (nothing is created or ended), attributing
    metrics to ``execution_id``; its metrics are flushed on exit, even on an exception.

    ``store``/``artifacts``: the run's own stores (a pipeline step always passes them; looking
    up the project's default environment instead would log into the wrong one). When left
    out, they are resolved only when something is logged, so wrapping costs microseconds.
    """
    binding = _Binding(run_id, execution_id, owned=False, store_arg=store, artifacts_arg=artifacts)
    binding.previous = _current.get()
    token = _current.set(binding)
    try:
        yield ActiveRun(binding)
    finally:
        try:
            binding.buffer.close()
        finally:
            _current.reset(token)


@contextmanager
def plain_step_call(step_name: str) -> Iterator[None]:
    """Mark a step's plain call (no pipeline, no active run): tracking calls are dropped."""
    token = _plain_step.set(step_name)
    try:
        yield
    finally:
        _plain_step.reset(token)


def _dropped(what: str) -> bool:
    """True when ``what`` runs inside a plain step call with no run: say so, drop it."""
    step_name = _plain_step.get()
    if step_name is None or _current.get() is not None:
        return False
    log.info("%s in step %r called outside a run: not recorded", what, step_name)
    return True


def log_params(params: Mapping[str, Any]) -> None:
    """Record params (stored as strings). Logging a key again with another value raises
    ``ValidationError``: params describe a run and do not change."""
    _check_keys("param", params)
    if _dropped("log_params"):
        return
    binding = _require_active("log_params")
    if binding.writer is not None:
        binding.writer.log_params(binding.run_id, params)
    else:
        binding.store().log_params(binding.run_id, params)


def log_metrics(metrics: Mapping[str, float], step: int = 0) -> None:
    """Record metric values at ``step`` (buffered; see the module docstring)."""
    _check_keys("metric", metrics)
    if _dropped("log_metrics"):
        return
    binding = _require_active("log_metrics")
    if type(step) is not int and (isinstance(step, bool) or not isinstance(step, numbers.Integral)):
        raise ValidationError(f"log_metrics: step must be an integer, got {step!r}")
    now, step, execution_id = utc_now(), int(step), binding.execution_id
    values = []
    for key, value in metrics.items():
        if type(value) is not float and (
            isinstance(value, bool) or not isinstance(value, numbers.Real)
        ):  # the first test is the fast path: most values are plain floats
            raise ValidationError(
                f"metric {key!r} has value {value!r} of type {type(value).__name__}; "
                "metric values must be numbers"
            )
        values.append(Metric(key, float(value), step, now, execution_id))
    if binding.writer is not None:
        binding.writer.log_metrics(binding.run_id, values)
    else:
        binding.buffer.add(values)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run (values stored as strings; a key set again is overwritten)."""
    _check_keys("tag", tags)
    if _dropped("set_tags"):
        return
    binding = _require_active("set_tags")
    if binding.writer is not None:
        binding.writer.set_tags(binding.run_id, {k: str(v) for k, v in tags.items()})
    else:
        binding.store().set_tags(binding.run_id, {k: str(v) for k, v in tags.items()})


def flush() -> None:
    """Write now the active run's buffered metric values and every write queued by async
    logging in this process; raises a ``TrackingWriteError`` the background writer met."""
    binding = _current.get()
    if binding is not None:
        binding.buffer.flush()
    write_behind.flush_all()


def log_artifact(
    local_path: str | Path,
    name: str | None = None,
    *,
    artifact_type: str = "File",
    materializer: str | None = None,
) -> Artifact:
    """Store a file or a folder in the artifact store and record it on the active run.

    The bytes go to ``runs/<run id>/artifacts/<name>`` (``name`` defaults to the file's name).
    The record is an Artifact of ``artifact_type`` (default "File"; ``materializer`` names the
    materializer that wrote the folder, so it loads back as a value) with properties run_id,
    name and source, written by a
    ``log_artifact`` execution of the run with an OUTPUT event, so ``mloop lineage RUN`` shows
    it, plus the run tag ``mloop.artifact.<name>`` = artifact id.
    """
    binding = _require_active("log_artifact")
    source = Path(local_path)
    if not source.exists():
        raise ValidationError(f"log_artifact: {source} does not exist; give a file or a folder")
    name = name or source.name
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        raise ValidationError(
            f"log_artifact: name {name!r} must be a relative path without '..' "
            "(e.g. 'plots/roc.png')"
        )
    store, files = binding.store(), binding.artifacts()
    if binding.writer is not None:  # the execution below refers to the run: it must be written
        binding.writer.flush()
    staging = files.new_staging_dir()
    if source.is_dir():
        shutil.copytree(source, staging, dirs_exist_ok=True)
    else:
        shutil.copy2(source, staging / source.name)
    stored = files.put_dir(staging, f"runs/{binding.run_id}/artifacts/{name}")
    artifact = Artifact(
        id=new_id(),
        type=artifact_type,
        uri=stored.uri,
        digest=stored.digest,
        size=stored.size,
        created_at=utc_now(),
        materializer=materializer,
        properties={"run_id": binding.run_id, "name": name, "source": str(source.resolve())},
    )
    execution = store.create_execution(binding.run_id, "log_artifact", params={"name": name})
    store.finish_execution(
        execution.id,
        ExecutionState.SUCCEEDED,
        new_artifacts=[artifact],
        outputs={name: artifact.id},
    )
    store.set_tags(binding.run_id, {ARTIFACT_TAG_PREFIX + name: artifact.id})
    return artifact


def _end(binding: _Binding, state: RunState, error: str | None) -> None:
    if binding.ended:
        return
    binding.ended = True
    try:
        if binding.writer is not None:
            binding.writer.finish_run(binding.run_id, state, error=error)
            if write_behind.in_multiprocessing_child():
                binding.writer.flush()  # the parent may end this process at once
        else:  # the last metric values and the final state: one transaction
            pending = binding.buffer.take()
            finish = RunFinish(state, utc_now(), error)
            try:
                binding.store().record_runs(
                    [RunWrites(binding.run_id, metrics=pending, finish=finish)]
                )
            except BaseException:
                binding.store().finish_run(binding.run_id, state, error=error)  # still ended
                raise
    finally:
        if _current.get() is binding:
            try:
                assert binding.token is not None
                _current.reset(binding.token)
            except ValueError:  # ended from another context than it was started in
                _current.set(binding.previous)


def _require_active(what: str) -> _Binding:
    binding = _current.get()
    if binding is None:
        raise ValidationError(
            f"{what}: there is no active run; use `with mloop.start_run():` around it"
        )
    return binding


def _check_keys(what: str, values: Mapping[str, Any]) -> None:
    if type(values) is not dict and not isinstance(values, Mapping):
        raise ValidationError(f"{what}s must be a mapping of name -> value, got {values!r}")
    for key in values:
        if type(key) is not str or not key:
            raise ValidationError(f"{what} name {key!r} must be a non-empty string")


def _default_store() -> MetadataStore:
    from mloop.config import load_settings
    from mloop.metadata.connect import connect

    return connect(load_settings().metadata_url)


def _default_artifacts() -> ArtifactStore:
    from mloop.artifacts import connect
    from mloop.config import load_settings

    return connect(load_settings().artifact_root)
