"""Every error mloop raises derives from :class:`MloopError`.

The tree::

    MloopError
    ├── ConfigError                 a project file, setting or argument is wrong
    │   ├── ProjectFileError        mloop.yaml cannot be read (names file, line, key)
    │   └── BackendNotFoundError    a backend short name, entry point or dotted path is unknown
    ├── NotFoundError (LookupError)
    │   ├── RunNotFoundError
    │   ├── ExecutionNotFoundError
    │   ├── ArtifactNotFoundError
    │   └── PipelineNotFoundError
    ├── ValidationError (ValueError) input or data that breaks a rule
    │   └── PipelineDefinitionError a pipeline graph that cannot run (cycle, bad wiring)
    ├── StepExecutionError          user code in a step raised; the cause is chained
    │   └── StepTimeoutError
    └── StoreError                  a metadata or artifact store failed
        ├── MigrationRequiredError  the database schema is older (or newer) than this mloop
        ├── IntegrityError          an artifact's bytes do not match its recorded SHA-256
        └── UnsafePathError         an artifact URI escapes the store's root

Every message says what was wrong and what to do about it. Users should not subclass these.
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "BackendNotFoundError",
    "ConfigError",
    "ExecutionNotFoundError",
    "IntegrityError",
    "MigrationRequiredError",
    "MloopError",
    "NotFoundError",
    "PipelineDefinitionError",
    "PipelineNotFoundError",
    "ProjectFileError",
    "RunNotFoundError",
    "StepExecutionError",
    "StepTimeoutError",
    "StoreError",
    "UnsafePathError",
    "ValidationError",
]


class MloopError(Exception):
    """Root of every error mloop raises on purpose."""


class ConfigError(MloopError):
    """A setting, project file or argument is wrong."""


class ProjectFileError(ConfigError):
    """The project file cannot be used; ``path``, ``line`` and ``key`` say where."""

    def __init__(self, message: str, *, path: str, line: int | None = None, key: str | None = None):
        where = path if line is None else f"{path}:{line}"
        what = f" (key '{key}')" if key else ""
        super().__init__(f"{where}{what}: {message}")
        self.path, self.line, self.key = path, line, key


class BackendNotFoundError(ConfigError):
    """No backend of ``kind`` answers to ``name``."""

    def __init__(self, kind: str, name: str, known: list[str]):
        super().__init__(
            f"no {kind} backend named {name!r}; use one of {sorted(known)}, an installed "
            f"'mloop.{kind}' entry point, or a dotted path 'package.module:Class'"
        )
        self.kind, self.name = kind, name


class NotFoundError(MloopError, LookupError):
    """Something asked for by id or name does not exist."""


class RunNotFoundError(NotFoundError):
    def __init__(self, run_id: str):
        super().__init__(f"run {run_id!r} not found; 'mloop runs list' shows the runs there are")
        self.run_id = run_id


class ExecutionNotFoundError(NotFoundError):
    def __init__(self, execution_id: str):
        super().__init__(f"execution {execution_id!r} not found in the metadata store")
        self.execution_id = execution_id


class ArtifactNotFoundError(NotFoundError):
    def __init__(self, artifact: str, detail: str = ""):
        extra = f": {detail}" if detail else ""
        super().__init__(f"artifact {artifact!r} not found{extra}")
        self.artifact = artifact


class PipelineNotFoundError(NotFoundError):
    def __init__(self, reference: str, detail: str = ""):
        extra = f": {detail}" if detail else ""
        super().__init__(
            f"pipeline {reference!r} not found{extra}; give it as 'module:function' "
            "or 'path/to/file.py:function'"
        )
        self.reference = reference


class ValidationError(MloopError, ValueError):
    """Input or data breaks a rule; the message names the field."""


class PipelineDefinitionError(ValidationError):
    """A pipeline's graph cannot run as written."""


class StepExecutionError(MloopError):
    """User code inside a step raised; the original exception is ``__cause__``."""

    def __init__(self, step_name: str, run_id: str, detail: str, *, attempts: int = 1):
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"step {step_name!r} of run {run_id} failed{tries}: {detail}")
        self.step_name, self.run_id, self.attempts = step_name, run_id, attempts


class StepTimeoutError(StepExecutionError):
    """A step ran past its ``timeout`` (seconds)."""


class StoreError(MloopError):
    """A metadata or artifact store could not do what was asked."""


class MigrationRequiredError(StoreError):
    """The database schema does not match this version of mloop."""


class IntegrityError(StoreError):
    """An artifact's bytes no longer match the SHA-256 digest recorded when it was written."""

    def __init__(self, uri: str, expected: str, actual: str):
        super().__init__(
            f"artifact {uri} is corrupt or was modified: expected sha256 {expected[:12]}..., "
            f"found {actual[:12]}...; refusing to read it. Re-run the step that produced it."
        )
        self.uri, self.expected, self.actual = uri, expected, actual


class UnsafePathError(StoreError, ValueError):
    """An artifact path would leave the store's root folder."""

    def __init__(self, path: str, root: str):
        super().__init__(f"artifact path {path!r} escapes the store root {root!r}; refused")
        self.path, self.root = path, root
