"""The result of one CD gate, as recorded in a deployment's ``details["gates"]`` (JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FAILED", "OVERRIDDEN", "PASSED", "SKIPPED", "GateResult"]

PASSED, FAILED, SKIPPED, OVERRIDDEN = "passed", "failed", "skipped", "overridden"


@dataclass(frozen=True)
class GateResult:
    """``name`` (libraries, resources, expected_outputs, metrics), ``status`` (passed,
    failed, skipped: not configured or not applicable, overridden: failed but let through by
    ``by`` because ``why``), ``detail`` (one sentence: what passed or what failed and what to
    do) and ``facts`` (what was compared, JSON)."""

    name: str
    status: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)
    by: str | None = None
    why: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
