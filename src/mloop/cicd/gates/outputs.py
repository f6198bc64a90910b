"""The expected-outputs CD gate: the package's model version, served by a fresh ``mloop serve``
process on the stores of the environment whose registry holds it (exactly as that environment's
serving loads it), is called with example inputs and must answer the expected outputs.

The examples come from ``gates.expected_outputs`` in ``mloop.yaml``: a CSV, Parquet or JSON
(records) file of input columns and an expected ``prediction`` column (``gates.output_column``),
compared within ``gates.tolerance`` (relative and absolute; non-numbers must be equal); or
``input_example``: the input example the model package records, with the predictions it
recorded for it when it was saved (``expected_output.json``; for an older package without them,
the predictions of the package loaded in this process from the same registry).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mloop.cicd.gates.model import PackageModel
from mloop.cicd.gates.result import FAILED, PASSED, SKIPPED, GateResult
from mloop.config import GatesConfig
from mloop.errors import MloopError, ValidationError

__all__ = ["INPUT_EXAMPLE", "check_expected_outputs", "compare_outputs", "read_examples"]

INPUT_EXAMPLE = "input_example"
REQUEST_TIMEOUT_S = 60.0
MAX_LISTED = 5


def read_examples(path: Path, output_column: str) -> tuple[Any, list[Any]]:
    """The input frame and the expected outputs of an examples file."""
    import pandas as pd

    if not path.is_file():
        raise ValidationError(
            f"the expected-outputs file {path} does not exist (gates.expected_outputs in "
            "mloop.yaml, relative to the project folder)"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif suffix in (".json", ".jsonl"):
        frame = pd.read_json(path, orient="records", lines=suffix == ".jsonl")
    else:
        raise ValidationError(f"{path}: expected outputs are read from .csv, .parquet or .json")
    if output_column not in frame.columns:
        raise ValidationError(
            f"{path} has no {output_column!r} column of expected outputs (columns: "
            f"{list(frame.columns)}); add it or set gates.output_column"
        )
    return frame.drop(columns=[output_column]), frame[output_column].tolist()


def _same(expected: Any, got: Any, tolerance: float) -> bool:
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, bool) or isinstance(got, bool):
            return bool(expected) == bool(got)
        if math.isnan(expected) or math.isnan(got):
            return math.isnan(expected) and math.isnan(got)
        return math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance)
    return str(expected) == str(got)


def compare_outputs(
    expected: list[Any], got: list[Any], tolerance: float, column: str
) -> list[str]:
    """One sentence per row whose answer differs (at most ``MAX_LISTED``, then a count)."""
    if len(got) != len(expected):
        return [f"{len(got)} answers for {len(expected)} example rows"]
    bad = [
        i for i, (e, g) in enumerate(zip(expected, got, strict=True)) if not _same(e, g, tolerance)
    ]
    listed = [
        f"row {i}: {column} expected {expected[i]!r}, got {got[i]!r}" for i in bad[:MAX_LISTED]
    ]
    if len(bad) > MAX_LISTED:
        listed.append(f"and {len(bad) - MAX_LISTED} more rows")
    return listed


def _payload(frame: Any) -> dict[str, Any]:
    clean = frame.astype(object).where(frame.notna(), None)
    return {"dataframe_split": {"columns": list(frame.columns), "data": clean.values.tolist()}}


def _examples(model: PackageModel, gates: GatesConfig, project_dir: Path) -> tuple[Any, list[Any]]:
    from mloop.registry.registry import ModelRegistry

    assert gates.expected_outputs is not None
    if gates.expected_outputs != INPUT_EXAMPLE:
        frame, expected = read_examples(project_dir / gates.expected_outputs, gates.output_column)
        signature = model.version.signature or {}
        names = [i.get("name") for i in signature.get("inputs") or []]
        if names:
            frame = frame[[c for c in frame.columns if c in names]]
        return frame, expected
    registry = ModelRegistry(model.environment.store, model.environment.artifacts)
    package = registry.open_package(model.version)
    example = package.input_example()
    if example is None:
        raise ValidationError(
            f"{model.label} records no input example; save it with input_example=... or "
            "name an examples file in gates.expected_outputs"
        )
    recorded = package.expected_output()
    if recorded is not None:
        return example, recorded
    predicted = package.load().predict(example)
    return example, [v.item() if hasattr(v, "item") else v for v in list(predicted)]


def _served_answers(model: PackageModel, frame: Any, project_dir: Path) -> list[Any]:
    import httpx

    from mloop.cicd.service_process import served

    uri = model.version.model_uri
    with served(uri, project_dir, environment=model.environment.name) as base:
        response = httpx.post(
            f"{base}/invocations", json=_payload(frame), timeout=REQUEST_TIMEOUT_S
        )
    if response.status_code != 200:
        raise ValidationError(
            f"the service of {model.label} answered HTTP {response.status_code}: "
            f"{response.text[:300]}"
        )
    return list(response.json().get("predictions") or [])


def check_expected_outputs(
    environment: str, gates: GatesConfig, models: list[PackageModel], project_dir: Path, where: str
) -> GateResult:
    """Serve each model and compare its answers on the examples (see the module doc)."""
    if gates.expected_outputs is None:
        return GateResult(
            "expected_outputs", SKIPPED, f"{environment} sets no gates.expected_outputs"
        )
    if not models:
        return GateResult(
            "expected_outputs",
            FAILED,
            f"{environment} checks expected outputs but no model version registered by a "
            f"succeeded run of this package was found in {where}; run the package there first",
        )
    problems: list[str] = []
    facts: dict[str, Any] = {"examples": gates.expected_outputs, "tolerance": gates.tolerance}
    for model in models:
        try:
            frame, expected = _examples(model, gates, project_dir)
            got = _served_answers(model, frame, project_dir)
        except MloopError as exc:
            problems.append(f"{model.label}: {exc}")
            continue
        facts[model.version.model_uri] = {"rows": len(expected)}
        problems += [
            f"{model.label}: {p}"
            for p in compare_outputs(expected, got, gates.tolerance, gates.output_column)
        ]
    if problems:
        return GateResult(
            "expected_outputs",
            FAILED,
            "the served model does not give the expected outputs: "
            + "; ".join(problems)
            + ". Fix the model or the serving environment, or update the examples if the "
            "change is intended",
            facts,
        )
    labels = ", ".join(m.label for m in models)
    return GateResult(
        "expected_outputs",
        PASSED,
        f"{labels} served the expected outputs of {gates.expected_outputs}",
        facts,
    )
