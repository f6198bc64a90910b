"""Settings, read in one place: argument > ``MLOOP_*`` variable > ``mloop.yaml`` > default.

With no project file, everything lives under ``./.mloop`` (SQLite metadata, local artifacts).
``MLOOP_ENV`` (or ``--env``) picks one of the file's environments. Secrets belong in environment
variables: ``${VAR}`` inside a value of the file is replaced by that variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from mloop.errors import ConfigError, ProjectFileError

PROJECT_FILE = "mloop.yaml"
DEFAULT_ENVIRONMENT = "dev"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromotionPolicy(_Strict):
    """How a pipeline package gets deployed into one environment (read by ``mloop.cicd``).

    ``from``: the environment a package must come from (None: from where it was built);
    ``approval``: ``auto`` (active at once), ``review`` (waits for ``mloop approve``, by anyone)
    or ``manual`` (waits for ``mloop approve`` by someone other than who asked for it);
    ``min_successful_runs``: succeeded runs of that exact package (by digest) the ``from``
    environment's metadata store must hold before the deployment may become active.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | None = Field(default=None, alias="from")
    approval: Literal["auto", "review", "manual"] = "auto"
    min_successful_runs: int = Field(default=0, ge=0)


_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<|==)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_threshold(text: str) -> tuple[str, float]:
    """``">= 0.85"`` -> ``(">=", 0.85)``; ``ValueError`` for anything else."""
    match = _THRESHOLD.match(str(text))
    if match is None:
        raise ValueError(
            f"metric target {text!r} is not a comparison like '>= 0.85' or '<= 3.0' "
            "(one of >=, <=, >, <, == and a number)"
        )
    return match.group(1), float(match.group(2))


class EnvironmentResources(_Strict):
    """What an environment's machines offer one step: ``cpu`` and ``gpu`` (units), ``memory``
    (``32GB``, bytes...). A key left out is measured on the machine that checks."""

    cpu: float | None = Field(default=None, ge=0)
    memory: str | int | None = None
    gpu: float | None = Field(default=None, ge=0)

    @field_validator("memory")
    @classmethod
    def _size(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, str) and not re.match(r"^\s*[0-9]+(\.[0-9]+)?\s*[a-zA-Z]*\s*$", value):
            raise ValueError(f"memory {value!r} is not a size like '32GB' or a number of bytes")
        return value


class GatesConfig(_Strict):
    """The CD gates of an environment (read by ``mloop.cicd.gates.run``): ``metrics`` (name ->
    ``">= 0.85"``) the model version must meet, ``expected_outputs`` (a CSV/Parquet/JSON file
    of inputs with a ``prediction`` column, or ``input_example``) the served model must
    reproduce within ``tolerance`` (relative and absolute), ``model`` (the registered model
    the gates check; default: every model the package's runs registered),
    ``require_data_validation`` (the package's train/push steps must follow a validate step)
    and ``loadtest`` (the version's latest ``mloop loadtest`` within the ``loadtest:`` budget)."""

    metrics: dict[str, str] = Field(default_factory=dict)
    expected_outputs: str | None = None
    tolerance: float = Field(default=1e-6, ge=0)
    output_column: str = "prediction"
    model: str | None = None
    require_data_validation: bool = False
    loadtest: bool = False

    @field_validator("metrics")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        for target in value.values():
            parse_threshold(target)
        return value


class EnvironmentConfig(_Strict):
    """One environment (dev, staging, prod): where metadata and artifacts live, which runner,
    the promotion policy of pipeline deployments into it, what its machines offer
    (``resources``) and the CD gates a deployment must pass (``gates``)."""

    metadata: str | None = None
    artifacts: str | None = None
    runner: dict[str, Any] = Field(default_factory=lambda: {"type": "local"})
    online_store: dict[str, Any] | None = None
    promotion: PromotionPolicy = Field(default_factory=PromotionPolicy)
    resources: EnvironmentResources | None = None
    gates: GatesConfig = Field(default_factory=GatesConfig)


class PipelineConfig(_Strict):
    entrypoint: str
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    package: dict[str, Any] = Field(default_factory=dict)  # read by mloop.cicd (pipeline build)


class FeaturesConfig(_Strict):
    """``features:`` in mloop.yaml: the feature store's offline store (``{type: duckdb}`` by
    default; the type is a name in the ``offline_stores`` kind of :mod:`mloop.plugins`)."""

    offline_store: dict[str, Any] | None = None


class TrackingConfig(_Strict):
    """``tracking:`` in mloop.yaml. ``async_logging``: write tracking runs behind, in batches
    (see ``mloop.tracking.write_behind``); ``MLOOP_ASYNC_LOGGING`` and ``start_run``'s
    ``async_logging=`` take precedence."""

    async_logging: bool = False


class ProjectFile(_Strict):
    project: str = "default"
    default_environment: str | None = None
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)
    monitoring: dict[str, Any] = Field(default_factory=dict)  # read by mloop.monitoring
    ci: dict[str, Any] = Field(default_factory=dict)  # read by mloop.cicd (mloop ci)
    loadtest: dict[str, Any] = Field(default_factory=dict)  # budget of mloop loadtest
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)  # read by mloop.features
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one project in one environment."""

    project_dir: Path
    project: str
    environment: str
    metadata_url: str
    artifact_root: str
    runner: dict[str, Any] = field(default_factory=lambda: {"type": "local"})
    online_store: dict[str, Any] | None = None
    offline_store: dict[str, Any] | None = None
    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    project_file: Path | None = None
    promotion: PromotionPolicy = field(default_factory=PromotionPolicy)
    resources: EnvironmentResources | None = None
    """What the environment's machines offer a step (None: measure the machine)."""
    gates: GatesConfig = field(default_factory=GatesConfig)
    environments: tuple[str, ...] = ()
    """Every environment the project file defines, in file order (empty without one)."""
    async_logging: bool = False
    """Tracking writes behind, in batches (``MLOOP_ASYNC_LOGGING`` > ``tracking.async_logging``)."""

    @property
    def state_dir(self) -> Path:
        """``<project>/.mloop``: logs, locks and the embedded stores live here."""
        return self.project_dir / ".mloop"


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder from ``start`` upwards holding ``mloop.yaml``; else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here


def load_settings(
    project_dir: str | Path | None = None,
    *,
    env: str | None = None,
    metadata_url: str | None = None,
    artifact_root: str | None = None,
) -> Settings:
    """Resolve settings for ``project_dir`` (default: found from the current directory)."""
    root = find_project_dir(Path(project_dir) if project_dir else None)
    path = root / PROJECT_FILE
    project = read_project_file(path) if path.is_file() else ProjectFile()
    name = env or os.environ.get("MLOOP_ENV") or project.default_environment
    if name is None:
        name = (
            DEFAULT_ENVIRONMENT
            if DEFAULT_ENVIRONMENT in project.environments or not (project.environments)
            else next(iter(project.environments))
        )
    if project.environments and name not in project.environments:
        raise ConfigError(
            f"environment {name!r} is not defined in {path}; "
            f"choose one of {sorted(project.environments)} with --env or MLOOP_ENV"
        )
    chosen = project.environments.get(name, EnvironmentConfig())
    md = metadata_url or os.environ.get("MLOOP_METADATA_URL") or chosen.metadata
    art = artifact_root or os.environ.get("MLOOP_ARTIFACT_ROOT") or chosen.artifacts
    return Settings(
        project_dir=root,
        project=project.project,
        environment=name,
        metadata_url=_absolute_sqlite_url(md, root) if md else _default_metadata_url(root),
        artifact_root=_absolute_root(art, root) if art else str(root / ".mloop" / "artifacts"),
        runner=chosen.runner,
        online_store=chosen.online_store,
        offline_store=project.features.offline_store,
        pipelines=project.pipelines,
        project_file=path if path.is_file() else None,
        promotion=chosen.promotion,
        resources=chosen.resources,
        gates=chosen.gates,
        environments=tuple(project.environments),
        async_logging=env_flag("MLOOP_ASYNC_LOGGING", project.tracking.async_logging),
    )


def env_flag(name: str, default: bool) -> bool:
    """A boolean ``MLOOP_*`` variable: 1/true/yes/on or 0/false/no/off; unset or empty gives
    ``default``; anything else raises ``ConfigError``."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={os.environ[name]!r} is not a boolean; use 1 or 0")


def read_project_file(path: Path) -> ProjectFile:
    """Parse and validate ``mloop.yaml``; any problem is one ``ProjectFileError`` with its line."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectFileError(f"not valid YAML: {problem}", path=str(path), line=line) from exc
    if data is None:
        return ProjectFile()
    if not isinstance(data, dict):
        raise ProjectFileError("expected a mapping of settings at the top", path=str(path), line=1)
    try:
        return ProjectFile.model_validate(_expand_env(data, path))
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        raise ProjectFileError(
            _explain(err), path=str(path), line=_line_of(node, loc), key=".".join(loc) or None
        ) from exc


def _explain(err: Any) -> str:  # a pydantic ErrorDetails
    loc = err.get("loc") or ()
    if (
        err["type"] == "extra_forbidden"
        and loc[:1] == ("environments",)
        and loc[-1:] == ("approval",)
    ):
        return (
            "unknown setting; an environment's approval lives under `promotion:` "
            "(promotion: {from: staging, approval: manual, min_successful_runs: 3}), "
            "see docs/cicd.md"
        )
    if err["type"] == "extra_forbidden":
        return "unknown setting; see docs/configuration.md for the settings there are"
    if err["type"] == "missing":
        return "required setting is missing"
    return str(err["msg"])


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest YAML node on the path ``loc`` that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if str(kv[0].value) == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _expand_env(value: Any, path: Path) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, path) for v in value]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                raise ProjectFileError(
                    f"environment variable {var} is not set", path=str(path), key=var
                )
            return os.environ[var]

        return _ENV_VAR.sub(sub, value)
    return value


def _default_metadata_url(root: Path) -> str:
    return f"sqlite:///{root / '.mloop' / 'mloop.db'}"


def _absolute_sqlite_url(url: str, root: Path) -> str:
    """Resolve a relative SQLite path against the project folder, not the current directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(root / url[len(prefix) :])
    return url


def _absolute_root(url: str, root: Path) -> str:
    if "://" in url or Path(url).is_absolute():
        return url
    return str(root / url)
