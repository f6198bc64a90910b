"""What a step asks of the machine that runs it: ``@step(resources={"cpu": 2, "memory": "4GB"})``.

The request is checked when the step is declared (a typo fails at import, not on a cluster
an hour later). The local runner only validates it; the Ray runner turns it into the task's
``num_cpus``, ``num_gpus``, ``memory`` (bytes) and custom resources. A request is not part of
the step's code digest or of the pipeline version: where a step runs does not change what it
computes, so moving a pipeline to a cluster keeps its cache.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mloop.errors import PipelineDefinitionError

__all__ = ["StepResources", "parse_memory", "parse_resources"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


@dataclass(frozen=True)
class StepResources:
    """A step's request: ``cpu`` and ``gpu`` (units, fractions allowed), ``memory`` (bytes,
    None = no reservation) and ``custom`` resources by name (units)."""

    cpu: float = 1.0
    gpu: float = 0.0
    memory: int | None = None
    custom: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The request as JSON (for records and error messages)."""
        out: dict[str, Any] = {"cpu": self.cpu, "gpu": self.gpu, "memory": self.memory}
        out.update(self.custom)
        return out


def parse_memory(step: str, value: Any) -> int:
    """Bytes from ``4GB``, ``512MiB``, ``1.5G`` or a number of bytes (Kubernetes suffixes too)."""
    if isinstance(value, bool):
        raise _bad(step, "memory", value, "a size like '4GB' or a number of bytes")
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    elif isinstance(value, str) and (m := _MEMORY.match(value)):
        number, unit = float(m.group(1)), m.group(2).lower()
    else:
        raise _bad(step, "memory", value, "a size like '4GB' or a number of bytes")
    if unit not in _UNITS:
        raise _bad(step, "memory", value, f"a unit among {sorted(k for k in _UNITS if k)}")
    size = number * _UNITS[unit]
    if not math.isfinite(size) or size < 0:
        raise _bad(step, "memory", value, "a size >= 0")
    return int(size)


def parse_resources(step: str, resources: Mapping[str, Any] | None) -> StepResources:
    """Check and normalize a ``resources=`` mapping; ``PipelineDefinitionError`` names the key."""
    if resources is None:
        return StepResources()
    if not isinstance(resources, Mapping):
        raise PipelineDefinitionError(
            f"step {step!r}: resources must be a mapping like {{'cpu': 2, 'memory': '4GB'}}, "
            f"got {type(resources).__name__}"
        )
    values: dict[str, Any] = {"cpu": 1.0, "gpu": 0.0, "memory": None}
    custom: dict[str, float] = {}
    for key, value in resources.items():
        name = str(key).lower()
        if name == "memory":
            values["memory"] = None if value is None else parse_memory(step, value)
            continue
        number = _units(step, str(key), value)
        if name in ("cpu", "cpus", "num_cpus"):
            values["cpu"] = number
        elif name in ("gpu", "gpus", "num_gpus"):
            values["gpu"] = number
        else:
            custom[str(key)] = number
    return StepResources(values["cpu"], values["gpu"], values["memory"], custom)


def _units(step: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(step, key, value, "a number of units >= 0")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise _bad(step, key, value, "a number of units >= 0")
    return number


def _bad(step: str, key: str, value: Any, wanted: str) -> PipelineDefinitionError:
    return PipelineDefinitionError(
        f"step {step!r}: resources[{key!r}] = {value!r} is not valid; give {wanted}"
    )
