"""``@step`` and ``@pipeline``: the user-facing DSL.

Calling a step inside a pipeline body does not run it: it records a node in the graph and
returns :class:`StepOutput` placeholders. Calling a step anywhere else just calls the function,
so steps stay unit-testable. Running is delegated to a runner (``runners/``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from mloop.errors import PipelineDefinitionError
from mloop.pipelines.code_version import step_code_digest
from mloop.pipelines.file_inputs import declared_file_params, path_params
from mloop.pipelines.graph import InputRef, PipelineGraph, StepNode, check_json_param
from mloop.pipelines.param_types import check_params, type_hints
from mloop.pipelines.resources import StepResources, parse_resources

if TYPE_CHECKING:
    from mloop.config import Settings
    from mloop.pipelines.hooks import RunHook
    from mloop.pipelines.run_handle import RunHandle

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_OUTPUT = "output"

_tracing: contextvars.ContextVar[PipelineGraph | None] = contextvars.ContextVar(
    "mloop_tracing", default=None
)


@dataclass(frozen=True)
class StepOutput:
    """A placeholder for a step's output while a pipeline body is traced."""

    step: str
    output: str = DEFAULT_OUTPUT

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(
            f"the output of step {self.step!r} is not known while the pipeline is being built; "
            "branch inside a step instead of on a step's output in the pipeline body"
        )


class Step(Generic[F]):
    """A function made into a pipeline step, with its options.

    Options: ``cache`` (reuse outputs of an identical earlier execution), ``retries`` and
    ``retry_backoff_s`` (seconds before the first retry, doubled each time), ``timeout_s``
    (seconds), ``allow_pickle`` (store outputs no materializer handles with pickle),
    ``detect_files`` (False: only ``mloop.FileInput`` arguments count as files read, e.g. for a
    step whose ``str`` argument names a folder it *writes*),
    ``outputs`` (names for a tuple return value), ``resources`` (what one execution needs:
    ``{"cpu": 2, "memory": "4GB", "gpu": 0}``; the Ray runner requests it for the step's task,
    the local runner only checks it; see ``resources``).
    """

    def __init__(
        self,
        func: F,
        *,
        name: str | None = None,
        cache: bool = True,
        retries: int = 0,
        retry_backoff_s: float = 1.0,
        timeout_s: float | None = None,
        allow_pickle: bool = False,
        outputs: Sequence[str] = (DEFAULT_OUTPUT,),
        detect_files: bool = True,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        self.cache = cache
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.timeout_s = timeout_s
        self.allow_pickle = allow_pickle
        self.detect_files = detect_files
        self.outputs = tuple(outputs)
        self.resources: StepResources = parse_resources(self.name, resources)
        self.signature = inspect.signature(func)
        self._code_digest: str | None = None
        self._file_params: frozenset[str] | None = None
        self._path_params: frozenset[str] | None = None
        functools.update_wrapper(self, func)

    @property
    def code_digest(self) -> str:
        """SHA-256 of the step's source and of the user helpers it calls (``code_version``)."""
        if self._code_digest is None:
            self._code_digest = step_code_digest(self.func)
        return self._code_digest

    @property
    def file_params(self) -> frozenset[str]:
        """Arguments annotated ``mloop.FileInput`` (see ``file_inputs``)."""
        if self._file_params is None:
            self._file_params = declared_file_params(self.func)
        return self._file_params

    def call_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` as the function receives them: parameters annotated ``Path`` were
        stored as strings (parameters are JSON) and are handed over as ``Path`` again."""
        if self._path_params is None:
            self._path_params = path_params(self.func)
        if not self._path_params:
            return dict(params)
        return {
            k: Path(v) if k in self._path_params and isinstance(v, str) else v
            for k, v in params.items()
        }

    def __call__(self, *args: Any, after: Sequence[Any] = (), **kwargs: Any) -> Any:
        graph = _tracing.get()
        if graph is None:  # a plain call: the function itself (unit tests, notebooks)
            from mloop.tracking.fluent import plain_step_call

            with plain_step_call(self.name):
                return self.func(*args, **kwargs)
        return self._trace(graph, args, kwargs, after)

    def _trace(
        self, graph: PipelineGraph, args: tuple[Any, ...], kwargs: dict[str, Any], after: Any
    ) -> Any:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(f"step {self.name!r}: {exc}") from None
        bound.apply_defaults()
        node = StepNode(name=graph.unique_name(self.name), step=self)
        for arg, value in bound.arguments.items():
            kind = self.signature.parameters[arg].kind
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"step {self.name!r}: *args/**kwargs are not supported in steps; "
                    "name each input"
                )
            if isinstance(value, StepOutput):
                node.inputs[arg] = InputRef(value.step, value.output)
            elif isinstance(value, tuple) and value and isinstance(value[0], StepOutput):
                raise PipelineDefinitionError(
                    f"step {self.name!r}: argument {arg!r} got all outputs of step "
                    f"{value[0].step!r}; unpack them (a, b = {value[0].step}(...)) and pass one"
                )
            else:
                node.params[arg] = check_json_param(self.name, arg, value)
        for dep in after if isinstance(after, (list, tuple)) else [after]:
            for ref in dep if isinstance(dep, tuple) else (dep,):
                if not isinstance(ref, StepOutput):
                    raise PipelineDefinitionError(
                        f"step {self.name!r}: after= takes outputs of earlier steps, got {ref!r}"
                    )
                if ref.step not in node.after:
                    node.after.append(ref.step)
        graph.add(node)
        placeholders = tuple(StepOutput(node.name, out) for out in self.outputs)
        return placeholders[0] if len(placeholders) == 1 else placeholders

    def __repr__(self) -> str:
        return f"<step {self.name}>"


@overload
def step(func: F, /) -> Step[F]: ...
@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_backoff_s: float = 1.0,
    timeout_s: float | None = None,
    allow_pickle: bool = False,
    outputs: Sequence[str] = (DEFAULT_OUTPUT,),
    detect_files: bool = True,
    resources: Mapping[str, Any] | None = None,
) -> Callable[[F], Step[F]]: ...
def step(func: Any = None, /, **options: Any) -> Any:
    """Make a function a pipeline step: ``@step`` or ``@step(retries=2, timeout_s=60)``."""
    if func is None:
        return lambda f: Step(f, **options)
    return Step(func, **options)


class Pipeline:
    """A function whose body wires steps together; ``run(**params)`` executes it."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None, experiment=None):
        self.func = func
        self.name = name or func.__name__
        self.experiment = experiment or self.name
        self.signature = inspect.signature(func)
        functools.update_wrapper(self, func)

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The pipeline's parameters: defaults overridden by ``params``. Unknown names are
        refused, and given values must fit the function's type hints (``ParameterTypeError``,
        see ``param_types``)."""
        unknown = set(params) - set(self.signature.parameters)
        if unknown:
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} has no parameter {sorted(unknown)[0]!r}; "
                f"its parameters are {list(self.signature.parameters)}"
            )
        given = {  # a value equal to the default is the author's (it may not fit its hint)
            k: v for k, v in params.items() if not _same(v, self.signature.parameters[k].default)
        }
        checked = {**params, **check_params(self.name, given, type_hints(self.func))}
        try:
            bound = self.signature.bind(**checked)
        except TypeError as exc:
            raise PipelineDefinitionError(f"pipeline {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return {k: check_json_param(self.name, k, v) for k, v in bound.arguments.items()}

    def compile(self, **params: Any) -> PipelineGraph:
        """Trace the body with ``params`` into a graph (no step runs)."""
        resolved = self.resolve_params(params)
        graph = PipelineGraph(name=self.name, params=resolved)
        with _tracing_into(graph):
            self.func(**resolved)
        graph.validate()
        return graph

    def run(self, **params: Any) -> RunHandle:
        """Run with these parameters in the current project; raises ``StepExecutionError`` on
        failure (after recording it). Options (resume, parallel, hooks) go to :meth:`run_with`."""
        return self.run_with(params)

    def run_with(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        resume: str | None = None,
        parallel: int = 1,
        hooks: Sequence[RunHook] = (),
        settings: Settings | None = None,
        cache: bool = True,
        trigger: str | None = None,
        raise_on_failure: bool = True,
    ) -> RunHandle:
        """Run with options: ``resume`` a run id, ``parallel`` steps at once, ``hooks``."""
        from mloop.pipelines.launch import launch

        return launch(
            self,
            dict(params or {}),
            resume=resume,
            parallel=parallel,
            hooks=hooks,
            settings=settings,
            cache=cache,
            trigger=trigger,
            raise_on_failure=raise_on_failure,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _tracing.get() is not None:
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} was called inside another pipeline; call its steps instead"
            )
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


def pipeline(func: Any = None, /, *, name: str | None = None, experiment: str | None = None) -> Any:
    """Make a function a pipeline: ``@pipeline`` or ``@pipeline(name=..., experiment=...)``."""
    if func is None:
        return lambda f: Pipeline(f, name=name, experiment=experiment)
    return Pipeline(func, name=name, experiment=experiment)


def _same(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # an exotic __eq__
        return False


class _tracing_into:
    def __init__(self, graph: PipelineGraph) -> None:
        self.graph = graph

    def __enter__(self) -> PipelineGraph:
        self._token = _tracing.set(self.graph)
        return self.graph

    def __exit__(self, *exc: object) -> None:
        _tracing.reset(self._token)


def iter_steps(module_globals: Mapping[str, Any]) -> Iterator[Step[Any]]:
    """The steps defined in a module namespace (used by discovery in the CLI)."""
    return (v for v in module_globals.values() if isinstance(v, Step))
