"""Check (g) of ``mloop ci`` wired to the stores: the models a smoke run trained (registered
versions of its throwaway registry, else its ``Model`` outputs under ``ci.model``) against
``name@alias`` in the target environment's own registry, read only."""

from __future__ import annotations

import time
from typing import Any

from mloop.cicd.ci.config import CiConfig
from mloop.cicd.ci.pipeline_checks import suite_of
from mloop.cicd.ci.results import CheckResult
from mloop.cicd.ci.schema_compat import compare_signatures, nullable_columns
from mloop.cicd.ci.smoke import SmokeRun
from mloop.config import Settings

__all__ = ["check_serving_contract", "trained_signatures"]

NAME = "schema matches the serving contract"


def trained_signatures(smoke: SmokeRun, config: CiConfig) -> dict[str, dict[str, Any]]:
    """Model name -> signature (``to_dict`` form) of what the smoke run trained."""
    if smoke.handle is None:
        return {}
    store = smoke.store
    rows = store.model_registry()
    found: dict[str, dict[str, Any]] = {}
    for model in rows.search_models():
        for version in rows.list_versions(model.name):
            if version.run_id == smoke.handle.id and version.signature:
                found.setdefault(model.name, dict(version.signature))
    name = config.model or _pushed_name(smoke)
    if found or name is None:
        return found
    from mloop.artifacts import connect as connect_artifacts
    from mloop.pipelines.materializers import load_value

    artifacts = connect_artifacts(smoke.settings.artifact_root)
    for ex in store.list_executions(smoke.handle.id):
        for event in store.list_events(execution_id=ex.id):
            art = store.get_artifact(event.artifact_id)
            if event.kind.value == "output" and art.type == "Model" and art.materializer:
                package = load_value(artifacts, art.uri, art.materializer, digest=art.digest)
                if getattr(package, "signature", None) is not None:
                    found[name] = package.signature.to_dict()
    return found


def _pushed_name(smoke: SmokeRun) -> str | None:
    """The model name a ``push`` step of the graph registers under (its ``name`` param): the
    candidate is compared even when the smoke run's push refused it."""
    from mloop.components.push import push as push_step

    if smoke.graph is None:
        return None
    names = [n.params.get("name") for n in smoke.graph if n.step is push_step]
    return next((str(n) for n in names if n), None)


def check_serving_contract(smoke: SmokeRun, config: CiConfig, target: Settings) -> CheckResult:
    """One result: every trained model against what ``target`` serves under its alias."""
    from mloop.components.push import alias_for_environment

    suite = suite_of(smoke.pipeline)
    started = time.monotonic()
    alias = alias_for_environment(target.environment)
    try:
        trained = trained_signatures(smoke, config)
        if not trained:
            why = (
                "the smoke run trained no model"
                if smoke.handle is not None
                else "the smoke run did not start"
            )
            return CheckResult(
                suite, NAME, "skipped", f"{why} (or set ci.model to name its Model output)"
            )
        lines, problems = _compare_all(trained, target, alias)
    except Exception as exc:  # the target store being unreachable is an error of this check
        return CheckResult(
            suite, NAME, "error", f"{type(exc).__name__}: {exc}", "", time.monotonic() - started
        )
    elapsed = time.monotonic() - started
    if problems:
        return CheckResult(suite, NAME, "failed", problems[0], "\n".join(problems), elapsed)
    status = "passed" if any("compatible" in line for line in lines) else "skipped"
    return CheckResult(suite, NAME, status, "; ".join(lines), "", elapsed)  # type: ignore[arg-type]


def _compare_all(
    trained: dict[str, dict[str, Any]], target: Settings, alias: str
) -> tuple[list[str], list[str]]:
    from mloop.artifacts import connect as connect_artifacts
    from mloop.errors import ModelNotFoundError
    from mloop.metadata import connect
    from mloop.registry import ModelRegistry

    env = target.environment
    if _missing_sqlite(target.metadata_url):
        return [f"environment {env!r} has no store yet: no serving contract to keep"], []
    registry = ModelRegistry(connect(target.metadata_url), connect_artifacts(target.artifact_root))
    lines: list[str] = []
    problems: list[str] = []
    for name, signature in sorted(trained.items()):
        try:
            current = registry.get_alias(name, alias)
        except ModelNotFoundError:
            current = None
        if current is None or not current.signature:
            lines.append(f"{name}@{alias} is not served in {env!r} yet: nothing to keep")
            continue
        example = _example(registry, current)
        found = compare_signatures(
            current.signature,
            signature,
            current_nullable=nullable_columns(current.signature, example),
        )
        where = f"{name}@{alias} (v{current.version}, env {env!r})"
        if found:
            problems += [f"{where}: {p}" for p in found]
        else:
            lines.append(f"compatible with {where}")
    return lines, problems


def _example(registry: Any, version: Any) -> Any:
    """The input example of the served version (None when its package cannot be opened)."""
    try:
        return registry.open_package(version).input_example()
    except Exception:  # the contract check still runs on the signature alone
        return None


def _missing_sqlite(url: str) -> bool:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return False
    from pathlib import Path

    return not Path(url[len(prefix) :].split("?", 1)[0]).exists()
