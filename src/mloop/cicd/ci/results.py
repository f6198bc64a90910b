"""What ``mloop ci`` found: one :class:`CheckResult` per check (a JUnit test case), grouped
into suites, and the :class:`CiReport` the reports (Rich table, JUnit XML, Markdown) are drawn
from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CheckResult", "CiReport", "Status"]

Status = Literal["passed", "failed", "error", "skipped"]
"""``failed``: the check ran and found a problem; ``error``: the check itself could not run
(counted as a failure for the exit code); ``skipped``: nothing to check, with the reason."""


@dataclass(frozen=True)
class CheckResult:
    """One check: ``suite`` groups it (``unit-tests``, ``pipeline:training``), ``name`` says
    what was checked, ``message`` why it passed, failed or was skipped (one line), ``details``
    the evidence (several lines), ``duration_s`` how long it took (seconds)."""

    suite: str
    name: str
    status: Status
    message: str = ""
    details: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CiReport:
    """Every check of one ``mloop ci`` invocation; ``environment`` is the target environment
    (whose serving contract the schema check compares against)."""

    project: str
    environment: str
    checks: list[CheckResult] = field(default_factory=list)
    duration_s: float = 0.0
    run_id: str | None = None  # the ``ci`` tracking run that recorded this report

    @property
    def passed(self) -> bool:
        """True when no check failed or errored (skipped checks do not fail CI)."""
        return all(c.ok for c in self.checks)

    def counts(self) -> dict[str, int]:
        """``{"passed": n, "failed": n, "error": n, "skipped": n}``."""
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for check in self.checks:
            out[check.status] += 1
        return out

    def suites(self) -> dict[str, list[CheckResult]]:
        """Checks by suite, in the order the suites first appear."""
        grouped: dict[str, list[CheckResult]] = {}
        for check in self.checks:
            grouped.setdefault(check.suite, []).append(check)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "passed": self.passed,
            "counts": self.counts(),
            "duration_s": round(self.duration_s, 3),
            "run_id": self.run_id,
            "checks": [c.to_dict() for c in self.checks],
        }
