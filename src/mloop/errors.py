"""Every error mloop raises derives from :class:`MloopError`; every warning from
:class:`MloopWarning`.

The tree (``tests/unit/test_errors.py`` checks it against the classes and ``__all__``)::

    MloopError
    ├── ConfigError                     a project file, setting or argument is wrong
    │   ├── ProjectFileError            mloop.yaml cannot be read (names file, line, key)
    │   └── BackendNotFoundError        a backend short name, entry point or dotted path is unknown
    ├── NotFoundError (LookupError)
    │   ├── RunNotFoundError
    │   ├── ExecutionNotFoundError
    │   ├── ArtifactNotFoundError
    │   ├── PipelineNotFoundError
    │   ├── FeatureNotFoundError        an unknown view:feature, view or service
    │   ├── ModelNotFoundError          a registered model, version or alias does not exist
    │   ├── FileInputNotFoundError      a step's declared mloop.FileInput path does not exist
    │   └── UnknownRequestError         feedback for request ids the service never answered
    ├── ValidationError (ValueError)    input or data that breaks a rule
    │   ├── PipelineDefinitionError     a pipeline graph that cannot run (cycle, bad wiring)
    │   ├── ParameterTypeError          a pipeline parameter does not fit its type hint
    │   ├── FeatureDefinitionError      a malformed Entity / FeatureView / FeatureService
    │   ├── IncompatibleFeatureChangeError  a feature's type changed without --force
    │   ├── MissingJoinKeyError         entity rows lack a join key or the event time
    │   ├── TimestampTypeError          a timestamp column holds something else
    │   ├── DataValidationError         a validation gate found blocking anomalies
    │   ├── ModelCompatibilityError     a model package needs a library that is missing here
    │   ├── TrainingCheckError          training did not converge, or gave NaN/inf
    │   ├── OnnxExportError             an ONNX export failed or its predictions differ
    │   ├── PromotionRefusedError       an environment's promotion policy refuses a deploy
    │   │   └── GateRefusedError        a CD gate (resources, outputs, metrics) refused it
    │   ├── IncompatibleEnvironmentError  a machine lacks libraries a pipeline package imports
    │   ├── InsufficientResourcesError  a step asks for more CPU/memory/GPU than the target has
    │   ├── RequestParseError           an HTTP body that cannot be parsed (400)
    │   ├── PayloadTooLargeError        an HTTP body over the limit (413)
    │   └── InputSchemaError            valid JSON with wrong content; names the field (422)
    ├── StepExecutionError              user code in a step raised; the cause is chained
    │   └── StepTimeoutError
    ├── StoreError                      a metadata or artifact store failed
    │   ├── MigrationRequiredError      the database schema is older (or newer) than this mloop
    │   ├── IntegrityError              an artifact's bytes do not match its recorded SHA-256
    │   │   └── PackageIntegrityError   a pipeline package is not what its deployment recorded
    │   ├── UnsafePathError (ValueError)  an artifact URI escapes the store's root
    │   ├── OnlineStoreUnavailableError the online feature store (Redis) is down
    │   ├── DeploymentConflictError     another deployment won the race in that environment
    │   └── TrackingWriteError          async tracking writes could not be written
    ├── ModelNotReadyError              the prediction service has no model loaded yet (503)
    ├── ModelLoadError                  a prediction service cannot load its model at start
    └── UnauthorizedError               a missing or wrong token (401 / 403)

    MloopWarning (UserWarning)
    └── StaleFeaturesWarning            materialized rows already outside their ttl

Every message says what was wrong and what to do about it. Users should not subclass these.
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "BackendNotFoundError",
    "ConfigError",
    "DataValidationError",
    "DeploymentConflictError",
    "ExecutionNotFoundError",
    "FeatureDefinitionError",
    "FeatureNotFoundError",
    "FileInputNotFoundError",
    "GateRefusedError",
    "IncompatibleEnvironmentError",
    "IncompatibleFeatureChangeError",
    "InputSchemaError",
    "InsufficientResourcesError",
    "IntegrityError",
    "MigrationRequiredError",
    "MissingJoinKeyError",
    "MloopError",
    "MloopWarning",
    "ModelCompatibilityError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "NotFoundError",
    "OnlineStoreUnavailableError",
    "OnnxExportError",
    "PackageIntegrityError",
    "ParameterTypeError",
    "PayloadTooLargeError",
    "PipelineDefinitionError",
    "PipelineNotFoundError",
    "ProjectFileError",
    "PromotionRefusedError",
    "RequestParseError",
    "RunNotFoundError",
    "StaleFeaturesWarning",
    "StepExecutionError",
    "StepTimeoutError",
    "StoreError",
    "TimestampTypeError",
    "TrackingWriteError",
    "TrainingCheckError",
    "UnauthorizedError",
    "UnknownRequestError",
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


# -- feature store ------------------------------------------------------------------------------
class FeatureDefinitionError(ValidationError):
    """An Entity, FeatureView, FeatureService or on-demand view is malformed; the message says
    which object and which attribute."""


class FeatureNotFoundError(NotFoundError):
    """A feature reference (``view:feature``), view or service is not in the feature registry."""

    def __init__(self, reference: str, known: list[str] | None = None):
        hint = f"; known: {', '.join(sorted(known)[:20])}" if known else ""
        super().__init__(
            f"feature {reference!r} is not defined{hint}. Write references as 'view:feature' "
            "and run 'mloop features apply' after changing definitions"
        )
        self.reference = reference


class IncompatibleFeatureChangeError(ValidationError):
    """Applying a definition would change an existing feature's type or a view's join keys."""

    def __init__(self, name: str, changes: list[str]):
        super().__init__(
            f"{name}: incompatible change ({'; '.join(changes)}); stored training data and online "
            "values no longer match it. Rename the feature, or apply with force=True (--force) "
            "to record the change"
        )
        self.name, self.changes = name, changes


class MissingJoinKeyError(ValidationError):
    """Entity rows lack a join key (or the event timestamp) that a requested view needs."""

    def __init__(self, missing: list[str], where: str):
        super().__init__(
            f"{where} lacks column(s) {', '.join(missing)}, needed to join the requested "
            "features; add them to the entity rows"
        )
        self.missing = missing


class TimestampTypeError(ValidationError):
    """A timestamp column holds something other than timestamps."""

    def __init__(self, column: str, found: str, where: str, *, hint: str | None = None):
        if hint is None:
            hint = (
                "event times must be timestamps (any unit, naive = UTC, or with a time zone) or "
                "dates; parse text first (pandas.to_datetime(df[col], utc=True), polars "
                "pl.col(col).str.to_datetime()), or for a source store the column as a Parquet "
                "timestamp or CAST it in the SqlSource query"
            )
        super().__init__(f"{where}: column {column!r} has type {found}; {hint}")
        self.column, self.found, self.hint = column, found, hint


class OnlineStoreUnavailableError(StoreError):
    """The online store (e.g. Redis) cannot be reached or failed mid-request."""


# -- models, registry, training (issue 4) -------------------------------------------------------


class ModelCompatibilityError(ValidationError):
    """A model package cannot be loaded here: its library is missing or of another major
    version (with ``strict``)."""


class ModelNotFoundError(NotFoundError):
    """A registered model, version or alias does not exist."""

    def __init__(self, reference: str, detail: str = ""):
        extra = f": {detail}" if detail else ""
        super().__init__(
            f"model {reference!r} not found{extra}; 'mloop models list' shows the registered "
            "models and 'mloop models show NAME' their versions and aliases"
        )
        self.reference = reference


class UnknownRequestError(NotFoundError):
    """``/feedback`` named request ids that the prediction service never answered."""

    def __init__(self, request_ids: list[str]):
        shown = ", ".join(repr(r) for r in request_ids[:10])
        more = f" and {len(request_ids) - 10} more" if len(request_ids) > 10 else ""
        super().__init__(
            f"no prediction was answered with request id(s) {shown}{more}; nothing of this "
            "feedback was recorded. Send the id the service answered with (the 'id' of an "
            "Open Inference Protocol answer or the x-request-id header); a prediction answered "
            "by another worker in the last few seconds may not be in the log yet: retry then"
        )
        self.request_ids = list(request_ids)


class TrainingCheckError(ValidationError):
    """Training produced an unusable model: it did not converge, or its predictions or metrics
    hold NaN or infinite values. The message says which check failed and what to change."""


class OnnxExportError(ValidationError):
    """A model could not be converted to ONNX, or the converted model's predictions differ from
    the native ones by more than the tolerance."""


# -- serving (issue 6) ---------------------------------------------------------------------------


class RequestParseError(ValidationError):
    """A request body cannot be parsed at all (malformed JSON or CSV, unknown content type)."""


class PayloadTooLargeError(ValidationError):
    """A request body is larger than the service's limit (``limit`` bytes)."""

    def __init__(self, size: int, limit: int):
        super().__init__(
            f"request body of {size} bytes exceeds the limit of {limit} bytes; send fewer rows "
            "per request, or start the service with a larger --max-body-bytes"
        )
        self.size, self.limit = size, limit


class InputSchemaError(ValidationError):
    """Parsed input breaks the model's signature; ``field`` names the offending input."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"input {field!r}: {problem}")
        self.field, self.problem = field, problem


class ModelNotReadyError(MloopError):
    """The prediction service has no model loaded yet (or its load failed); retry later."""


class UnauthorizedError(MloopError):
    """A request lacks the bearer token the service (or its admin API) requires."""

    def __init__(self, message: str, *, admin: bool = False):
        super().__init__(message)
        self.admin = admin


class DataValidationError(ValidationError):
    """Data broke its schema with blocking anomalies. ``anomalies`` holds them (an
    :class:`mloop.data.Anomalies`); ``artifact_id`` is the recorded anomalies artifact, if any."""

    def __init__(self, anomalies: object, *, artifact_id: str | None = None):
        errors = list(getattr(anomalies, "errors", []))
        listed = "; ".join(f"{a.column or '<dataset>'}: {a.kind}: {a.reason}" for a in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        where = f"; the anomalies are recorded as artifact {artifact_id}" if artifact_id else ""
        super().__init__(
            f"data validation failed with {len(errors)} blocking anomalies: {listed}{more}{where}. "
            "Fix the data upstream, or edit the schema if the change is intended"
        )
        self.anomalies, self.artifact_id = anomalies, artifact_id


class ModelLoadError(MloopError):
    """A prediction service could not find or load its model when it started, so it exits
    instead of answering 503 forever; the message names the model, the reason and the fix."""

    def __init__(self, message: str, *, uri: str = ""):
        super().__init__(message)
        self.uri = uri


class FileInputNotFoundError(NotFoundError):
    """A step parameter declared ``mloop.FileInput`` names a file or folder that does not exist."""

    def __init__(self, step: str, param: str, path: str, cwd: str):
        super().__init__(
            f"step {step!r}: parameter {param!r} is declared mloop.FileInput but {path!r} does "
            f"not exist (relative paths are read from {cwd}); create it or pass another path"
        )
        self.step, self.param, self.path = step, param, path


class ParameterTypeError(ValidationError):
    """A pipeline parameter's value does not fit the type hint of the pipeline function."""

    def __init__(self, pipeline: str, param: str, value: object, expected: str, detail: str = ""):
        hint = f"; {detail}" if detail else ""
        super().__init__(
            f"pipeline {pipeline!r}: parameter {param!r} = {value!r} is not {expected}{hint}"
        )
        self.pipeline, self.param, self.value, self.expected = pipeline, param, value, expected


class DeploymentConflictError(StoreError):
    """Another deployment became active in the same environment since this one was requested
    (two deploys at once: exactly one wins). The losing request is recorded as rejected."""


class TrackingWriteError(StoreError):
    """The background writer of async tracking logging failed to write some runs' writes:
    raised at the next tracking call or flush of that process, naming the runs whose writes
    were dropped (``run_ids``) with the first cause chained."""

    def __init__(self, message: str, run_ids: tuple[str, ...] = ()):
        super().__init__(message)
        self.run_ids = run_ids


class PromotionRefusedError(ValidationError):
    """The environment's promotion policy does not allow this deployment (yet): the message says
    which rule and what would satisfy it."""


class GateRefusedError(PromotionRefusedError):
    """One or more CD gates of the target environment failed: the deployment is recorded as
    rejected with every gate's result (``deployment_id``, ``failed``: the gates' messages)."""

    def __init__(self, environment: str, deployment_id: str, failed: list[str]):
        super().__init__(
            f"{environment} refused the deployment: {'; '.join(failed)}. It is recorded as "
            f"rejected deployment {deployment_id} (mloop deployments show {deployment_id}). "
            "Fix what failed or, if you are sure, deploy again with --override-gate NAME "
            "(recorded with who and why)"
        )
        self.environment, self.deployment_id, self.failed = environment, deployment_id, failed


class InsufficientResourcesError(ValidationError):
    """Steps of a pipeline declare more CPU, memory or GPUs (``@step(resources=...)``) than
    the machine or environment offers; the message names each step and its shortfall."""

    def __init__(self, where: str, problems: list[str]):
        listed = "; ".join(problems)
        super().__init__(
            f"{where} cannot hold the pipeline's steps: {listed}. Lower the step's "
            "resources=..., run it where there is more (resources: in mloop.yaml says what an "
            "environment offers), or use a cluster runner"
        )
        self.where, self.problems = where, problems


class IncompatibleEnvironmentError(ValidationError):
    """A pipeline package imports libraries this machine lacks, or has at another major
    version: it is not deployed or run here (the message lists each, and what to install)."""


class PackageIntegrityError(IntegrityError):
    """A pipeline package's files or digest are not what its deployment recorded: it is not
    run (a deployment runs exactly the packaged code)."""

    def __init__(self, where: str, expected: str, problem: str):
        StoreError.__init__(
            self,
            f"pipeline package {expected[:12]} at {where} does not match its recorded digest: "
            f"{problem}; refusing to run it. Delete that folder (it is unpacked again from the "
            "artifact store) or build and deploy the package again",
        )
        self.uri, self.expected, self.actual = where, expected, problem


# -- warnings (issue 15) ------------------------------------------------------------------------


class MloopWarning(UserWarning):
    """Root of the warnings mloop emits: something worked, but probably not as you expect."""


class StaleFeaturesWarning(MloopWarning):
    """Materialized rows are already older than their view's ttl: online reads will return
    them as null with status OUTSIDE_MAX_AGE (``count`` rows of view ``view``)."""

    def __init__(self, view: str, count: int, total: int, ttl_s: float):
        super().__init__(
            f"materialize: {count} of {total} rows written for view {view!r} are already older "
            f"than its ttl ({ttl_s:g} s): online reads now give null (OUTSIDE_MAX_AGE) for them. "
            "Materialize fresher data, lengthen the view's ttl, or read with "
            "get_online_features(..., as_of=...) to judge ttl at another time"
        )
        self.view, self.count, self.total, self.ttl_s = view, count, total, ttl_s


# -- the wire vocabulary --------------------------------------------------------------------
# One table for every HTTP server mloop runs (the prediction service, the feature server, the
# infra-validation server): ``{"error_code": ..., "message": ...}`` with these statuses and
# codes. It lives here, at the bottom, so that servers of every layer share it.
_WIRE: tuple[tuple[type[BaseException], int, str], ...] = (
    (RequestParseError, 400, "bad_request"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (InputSchemaError, 422, "invalid_input"),
    (ValidationError, 422, "invalid_input"),
    (UnauthorizedError, 401, "unauthorized"),
    (ModelNotReadyError, 503, "not_ready"),
    (OnlineStoreUnavailableError, 503, "unavailable"),
    (IntegrityError, 503, "not_ready"),
    (NotFoundError, 404, "not_found"),
)


def wire_status(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, ``error_code``) of an error on the wire; anything else is 500
    ``internal`` (a 500 is always a bug)."""
    for cls, status, code in _WIRE:
        if isinstance(exc, cls):
            if isinstance(exc, UnauthorizedError) and exc.admin:
                return 403, "forbidden"
            return status, code
    return 500, "internal"
