"""Acting on an online experiment's decision (``mloop experiments show --act``): the alias the
champion route serves moves, and the registry's alias history records why.

- ``promote``: ``name@alias`` moves to the canary's version;
- ``rollback``: when ``name@alias`` already points at the canary's version (it was promoted
  before the evidence was in), it is rolled back to the version before it; otherwise the alias
  is left alone and the canary version is tagged ``mloop.experiment=rolled_back``: take its
  traffic away with ``mloop traffic``;
- ``continue``: nothing moves.
"""

from __future__ import annotations

from typing import Any

from mloop.cicd.experiments.comparison import ExperimentResult

__all__ = ["act_on_decision"]

TAG = "mloop.experiment"


def act_on_decision(result: ExperimentResult, registry: Any, alias: str) -> str:
    """Carry out ``result.decision`` on ``registry``; returns what was done (one line)."""
    name = result.model
    canary = result.canary_version
    why = f"online experiment: {result.reason}"
    if result.decision == "continue" or canary is None:
        return "nothing moved: the experiment continues"
    if not canary.isdigit():
        return f"nothing moved: the canary's version {canary!r} is not a registered version"
    version = int(canary)
    current = registry.alias_version(name, alias)
    if result.decision == "promote":
        if current == version:
            return f"{name}@{alias} already serves v{version}"
        registry.set_alias(name, alias, version, reason=why)
        registry.set_tags(name, {TAG: "promoted"}, version=version)
        return f"{name}@{alias} moved v{current} -> v{version}"
    if current == version:
        change = registry.rollback(name, alias, reason=why)
        registry.set_tags(name, {TAG: "rolled_back"}, version=version)
        return f"{name}@{alias} rolled back v{version} -> v{change.to_version}"
    registry.set_tags(name, {TAG: "rolled_back", f"{TAG}.reason": why[:500]}, version=version)
    return (
        f"{name}@{alias} still serves v{current}; canary v{version} tagged rolled_back "
        "(remove its traffic with mloop traffic)"
    )
