"""What a machine (or an environment) offers one step, and which declared step requests exceed it.

An environment may declare its capacity in ``mloop.yaml`` (``resources: {cpu: 8, memory: 32GB,
gpu: 1}``); what it leaves out is measured on the machine that checks: CPUs this process may
use (``sched_getaffinity``, else ``os.cpu_count``), physical memory (``sysconf``), GPUs
(``nvidia-smi -L`` when it is on the PATH, else ``torch.cuda`` when torch is importable, else
none). ``mloop deploy`` checks a package's steps against the target, the launcher against the
machine it runs on, before any step starts.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mloop.errors import InsufficientResourcesError
from mloop.pipelines.resources import StepResources, parse_memory

__all__ = [
    "Capacity",
    "capacity_applies",
    "capacity_of",
    "check_capacity",
    "describe",
    "format_bytes",
    "measure_capacity",
    "shortfalls",
    "step_requests",
]

NVIDIA_SMI_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Capacity:
    """What one step may use: ``cpu``/``gpu`` in units, ``memory`` in bytes (None: unknown,
    not checked); ``source`` says per key whether it was ``declared`` or ``measured``."""

    cpu: float | None
    memory: int | None
    gpu: float
    source: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "memory": self.memory, "gpu": self.gpu, "source": self.source}


def _cpus() -> float | None:
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        count = os.cpu_count()
        return float(count) if count else None


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> float:
    """GPUs seen by ``nvidia-smi -L`` (one line each), else by torch; 0 when neither can tell."""
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S
            )
            if out.returncode == 0:
                return float(sum(1 for line in out.stdout.splitlines() if line.startswith("GPU")))
        except (OSError, subprocess.SubprocessError):
            pass
    if importlib.util.find_spec("torch") is not None:
        try:
            import torch

            return float(torch.cuda.device_count()) if torch.cuda.is_available() else 0.0
        except Exception:  # a broken torch install tells nothing about the GPUs
            return 0.0
    return 0.0


def measure_capacity() -> Capacity:
    """This machine's CPUs, physical memory (bytes) and GPUs."""
    measured = {"cpu": "measured", "memory": "measured", "gpu": "measured"}
    return Capacity(_cpus(), _memory_bytes(), _gpus(), measured)


def capacity_of(declared: Any | None) -> Capacity:
    """An environment's capacity: its declared ``resources`` (an object or mapping with
    ``cpu``, ``memory``, ``gpu``), each key it leaves out measured on this machine."""
    values: Mapping[str, Any] = (
        {}
        if declared is None
        else declared
        if isinstance(declared, Mapping)
        else declared.model_dump()
    )
    given = {k: v for k, v in values.items() if v is not None}
    if len(given) == 3:
        measured = Capacity(None, None, 0.0, {})
    else:
        measured = measure_capacity()
    source = {k: ("declared" if k in given else "measured") for k in ("cpu", "memory", "gpu")}
    memory = given.get("memory")
    return Capacity(
        cpu=float(given["cpu"]) if "cpu" in given else measured.cpu,
        memory=parse_memory("environment", memory) if memory is not None else measured.memory,
        gpu=float(given["gpu"]) if "gpu" in given else measured.gpu,
        source=source,
    )


def capacity_applies(declared: Any | None, runner: Mapping[str, Any]) -> bool:
    """False on a cluster runner (Ray) without declared resources: there the cluster, not
    this machine, holds the steps (the Ray runner refuses a step no node can hold)."""
    return declared is not None or runner.get("type") != "ray"


def step_requests(graph: Any) -> dict[str, StepResources]:
    """Step name -> its declared request, for a compiled ``PipelineGraph``."""
    return {node.name: node.step.resources for node in graph.steps}


def format_bytes(size: float) -> str:
    """``4000000000`` -> ``4.0 GB`` (decimal units, as steps usually declare them)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def shortfalls(requests: Mapping[str, StepResources], capacity: Capacity) -> list[str]:
    """One sentence per step and resource its request exceeds (empty: everything fits)."""
    out: list[str] = []
    for name, res in requests.items():
        if capacity.cpu is not None and res.cpu > capacity.cpu:
            out.append(
                f"step {name!r} asks for {res.cpu:g} CPUs, {capacity.source['cpu']} "
                f"{capacity.cpu:g} (short by {res.cpu - capacity.cpu:g})"
            )
        if res.memory and capacity.memory is not None and res.memory > capacity.memory:
            out.append(
                f"step {name!r} asks for {format_bytes(res.memory)} of memory, "
                f"{capacity.source['memory']} {format_bytes(capacity.memory)} "
                f"(short by {format_bytes(res.memory - capacity.memory)})"
            )
        if res.gpu > capacity.gpu:
            out.append(
                f"step {name!r} asks for {res.gpu:g} GPUs, {capacity.source['gpu']} "
                f"{capacity.gpu:g} (short by {res.gpu - capacity.gpu:g})"
            )
    return out


def check_capacity(requests: Mapping[str, StepResources], capacity: Capacity, where: str) -> None:
    """Raise ``InsufficientResourcesError`` naming each step and shortfall in ``where``."""
    problems = shortfalls(requests, capacity)
    if problems:
        raise InsufficientResourcesError(where, problems)


def describe(requests: Iterable[tuple[str, StepResources]]) -> dict[str, dict[str, Any]]:
    """Step name -> request as JSON (for the deployment's record)."""
    return {name: res.as_dict() for name, res in requests}
