"""The CD gates of an environment, run in one place by ``mloop deploy`` / ``mloop promote``
before a package may become active there (see ADR 0024):

- ``libraries``: the libraries the package's code imports are installed here at the built major
  version (:mod:`mloop.pipelines.package_requirements`; the launcher checks again);
- ``resources``: the CPU, memory and GPUs its steps declare fit the environment
  (:mod:`mloop.cicd.gates.resources`; the launcher checks again on its machine);
- ``data_validation``: with ``gates.require_data_validation``, the package's training steps run
  after a ``validate`` step (:mod:`mloop.cicd.gates.data`);
- ``expected_outputs``: the model version the package produced, served as the environment
  serves it, answers the environment's examples (:mod:`mloop.cicd.gates.outputs`);
- ``metrics``: that version's recorded metrics meet the environment's targets
  (:mod:`mloop.cicd.gates.metrics`);
- ``loadtest``: with ``gates.loadtest``, that version's latest ``mloop loadtest`` is within the
  project's ``loadtest:`` budget (:mod:`mloop.cicd.gates.loadtest`).

Every result is recorded in the deployment's ``details["gates"]``; a failed gate rejects the
deployment (recorded, with the reasons) unless the caller overrides that gate by name
(``--override-gate``), which is recorded with who and why. The libraries gate cannot be
overridden: the launcher would refuse to run the package anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from mloop.cicd.environments import Environment
from mloop.cicd.gates.data import check_retraining_validation
from mloop.cicd.gates.loadtest import check_loadtest
from mloop.cicd.gates.metrics import check_metrics
from mloop.cicd.gates.model import package_models
from mloop.cicd.gates.outputs import check_expected_outputs
from mloop.cicd.gates.resources import check_resources, compile_package
from mloop.cicd.gates.result import FAILED, OVERRIDDEN, PASSED, SKIPPED, GateResult
from mloop.errors import ConfigError, PackageIntegrityError
from mloop.metadata.deployments import PipelinePackage

__all__ = ["GATES", "OVERRIDABLE", "check_libraries", "check_overrides", "run_gates"]

GATES = ("libraries", "resources", "data_validation", "expected_outputs", "metrics", "loadtest")
OVERRIDABLE = ("resources", "data_validation", "expected_outputs", "metrics", "loadtest")


def check_overrides(overrides: Collection[str]) -> None:
    """``ConfigError`` for an override naming no gate, or the libraries gate."""
    for name in overrides:
        if name == "libraries":
            raise ConfigError(
                "the libraries gate cannot be overridden: the launcher refuses to run a package "
                "whose libraries are missing; install them in the target environment"
            )
        if name not in OVERRIDABLE:
            raise ConfigError(
                f"--override-gate {name!r} names no gate; the gates are {', '.join(OVERRIDABLE)}"
            )


def check_libraries(target: Environment, package: PipelinePackage) -> GateResult:
    """The libraries the package's code imports, against this machine (see the module doc)."""
    from mloop.errors import IncompatibleEnvironmentError
    from mloop.pipelines.package_requirements import check_requirements
    from mloop.pipelines.packaged import CODE_DIR, read_manifest, unpack

    folder = unpack(
        target.artifacts, package.uri, package.digest, target.settings.state_dir / "packages"
    )
    try:
        check_requirements(read_manifest(folder), folder / CODE_DIR, target.name)
    except IncompatibleEnvironmentError as exc:
        return GateResult("libraries", FAILED, str(exc))
    return GateResult(
        "libraries", PASSED, f"the libraries the package imports are installed in {target.name}"
    )


def run_gates(
    target: Environment,
    package: PipelinePackage,
    sources: Sequence[Environment],
    *,
    overrides: Collection[str] = (),
    actor: str,
    reason: str,
) -> list[GateResult]:
    """Every gate of ``target`` on ``package``, in :data:`GATES` order. ``sources``: the
    environments (in order) where the package's model versions are looked for."""
    check_overrides(overrides)
    gates = target.settings.gates
    results = [check_libraries(target, package)]
    results += _graph_gates(target, package, skip=results[0].failed)
    models = []
    if gates.metrics or gates.expected_outputs or gates.loadtest:
        models = package_models(sources, package.pipeline, package.digest, gates.model)
    where = ", ".join(dict.fromkeys(e.name for e in sources)) or target.name
    project_dir = target.settings.project_dir
    results.append(check_expected_outputs(target.name, gates, models, project_dir, where))
    results.append(check_metrics(target.name, gates.metrics, models, where))
    results.append(check_loadtest(target.name, gates.loadtest, _budget(target), models, where))
    return [
        GateResult(r.name, OVERRIDDEN, r.detail, r.facts, by=actor, why=reason)
        if r.failed and r.name in overrides
        else r
        for r in results
    ]


def _budget(target: Environment) -> dict[str, object]:
    """The project's ``loadtest:`` budget (mloop.yaml), empty without a project file."""
    from mloop.config import read_project_file

    path = target.settings.project_file
    return dict(read_project_file(path).loadtest) if path else {}


def _graph_gates(target: Environment, package: PipelinePackage, *, skip: bool) -> list[GateResult]:
    """The gates that need the package's compiled steps (not imported when its libraries are
    missing here: importing them would fail, or run other code than was built)."""
    names = ("resources", "data_validation")
    if skip:
        why = "not checked: the package's libraries are missing"
        return [GateResult(name, SKIPPED, why) for name in names]
    try:
        graph = compile_package(target, package)
    except PackageIntegrityError:
        raise  # tampered files are an integrity failure, not a gate verdict
    except Exception as exc:  # user code that cannot be imported or traced here cannot run here
        why = f"{type(exc).__name__}: {exc}"
        detail = f"the package's steps cannot be compiled here: {why}"
        return [GateResult(n, FAILED, detail) for n in names]
    required = target.settings.gates.require_data_validation
    return [
        check_resources(target, graph),
        check_retraining_validation(target.name, required, graph),
    ]
