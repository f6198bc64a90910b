"""The ``ci:`` section of mloop.yaml, read by ``mloop ci``::

ci:
  tests: tests/                 # pytest folder of the project's own tests (null: none)
  pipelines: [training]         # pipelines to smoke-run (default: every one in the file)
  params:                       # the sample config of each smoke run (over its params)
    training: {sample: 0.1}
  overfit: {rows: 64, min_score: 0.9}   # the can-it-overfit check of train steps
  model: lending_club           # model to compare schemas for when no step registers one
  timeout_s: 600                # longest a pytest run may take (s)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mloop.errors import ConfigError

__all__ = ["CiConfig", "load_ci_config"]

_KEYS = {"tests", "pipelines", "params", "overfit", "model", "timeout_s"}


@dataclass(frozen=True)
class CiConfig:
    """Resolved ``ci:`` settings (see the module doc for their meaning)."""

    tests: str | None = "tests"
    pipelines: tuple[str, ...] | None = None
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    overfit_rows: int = 64
    overfit_min_score: float = 0.9
    model: str | None = None
    timeout_s: float = 600.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CiConfig:
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(f"ci: unknown key(s) {unknown}; known keys: {sorted(_KEYS)}")
        params = data.get("params") or {}
        if not isinstance(params, Mapping) or not all(
            isinstance(v, Mapping) for v in params.values()
        ):
            raise ConfigError("ci.params must map a pipeline name to its parameters")
        overfit = data.get("overfit") or {}
        if not isinstance(overfit, Mapping) or set(overfit) - {"rows", "min_score"}:
            raise ConfigError("ci.overfit takes {rows: N, min_score: 0-1}")
        rows = int(overfit.get("rows", 64))
        score = float(overfit.get("min_score", 0.9))
        if rows < 4 or not 0.0 < score <= 1.0:
            raise ConfigError("ci.overfit needs rows >= 4 and 0 < min_score <= 1")
        pipelines = data.get("pipelines")
        if pipelines is not None and not isinstance(pipelines, list):
            raise ConfigError("ci.pipelines must be a list of pipeline names")
        tests = data["tests"] if "tests" in data else "tests"
        return cls(
            tests=None if tests is None else str(tests),
            pipelines=None if pipelines is None else tuple(str(p) for p in pipelines),
            params={str(k): dict(v) for k, v in params.items()},
            overfit_rows=rows,
            overfit_min_score=score,
            model=data.get("model"),
            timeout_s=float(data.get("timeout_s", 600.0)),
        )


def load_ci_config(project_file: Path | None) -> CiConfig:
    """The ``ci:`` section of ``project_file`` (defaults when there is no file or section)."""
    from mloop.config import read_project_file

    if project_file is None or not Path(project_file).is_file():
        return CiConfig()
    return CiConfig.from_dict(read_project_file(Path(project_file)).ci)
