"""Does this machine have the libraries a pipeline package was built with? (a CD gate)

A package records every installed distribution of the machine that built it (``requirements``,
``name==version``). Of those, the ones its code imports matter: each must be installed where the
package is deployed and run, with the same major version (a new major version of scikit-learn
or pandas is the upgrade that changes results or breaks a step). Checked when a package is
deployed (``mloop deploy``, ``mloop promote``) and again by the launcher on the machine that runs
it, before any of its code is imported, so the run fails with the reason instead of an
``ImportError`` or a wrong answer deep inside a step.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mloop.errors import IncompatibleEnvironmentError

__all__ = ["check_requirements", "requirement_problems", "used_distributions"]


def _imported_top_names(files: Iterable[Path]) -> set[str]:
    names: set[str] = set()
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _key(name: str) -> str:
    return name.lower().replace("_", "-")


def used_distributions(code_root: Path) -> dict[str, set[str]]:
    """Distribution name -> the top-level modules of it that the package's code imports (the
    package's own modules and the standard library left out)."""
    files = [p for p in code_root.rglob("*.py") if "__pycache__" not in p.parts]
    own = {p.relative_to(code_root).parts[0].removesuffix(".py") for p in files}
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    wanted = _imported_top_names(files) - own - stdlib
    providers = importlib.metadata.packages_distributions()
    used: dict[str, set[str]] = {}
    for module in sorted(wanted):
        for dist in providers.get(module, [module]):
            used.setdefault(_key(dist), set()).add(module)
    return used


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def requirement_problems(manifest: Mapping[str, Any], code_root: Path) -> list[str]:
    """What this machine lacks of what the package's code imports (empty: nothing)."""
    recorded: dict[str, str] = {}
    for line in manifest.get("requirements") or []:
        name, sep, version = str(line).partition("==")
        if sep:
            recorded[_key(name)] = version
    installed = {_key(d.name or ""): d.version for d in importlib.metadata.distributions()}
    problems = []
    for dist, modules in sorted(used_distributions(code_root).items()):
        built_with = recorded.get(dist)
        if built_with is None:
            continue  # not a distribution on the building machine either (a local module)
        here = installed.get(dist)
        shown = ", ".join(sorted(modules))
        if here is None:
            problems.append(
                f"{dist} (imported as {shown}) is not installed here; it was built with "
                f"{dist}=={built_with}"
            )
        elif _major(here) != _major(built_with):
            problems.append(f"{dist} is {here} here but the package was built with {built_with}")
    return problems


def check_requirements(manifest: Mapping[str, Any], code_root: Path, where: str) -> None:
    """Raise ``IncompatibleEnvironmentError`` naming every problem (see the module docstring)."""
    problems = requirement_problems(manifest, code_root)
    if problems:
        raise IncompatibleEnvironmentError(
            f"pipeline package {str(manifest.get('digest', '?'))[:12]} of "
            f"{manifest.get('pipeline', '?')} cannot run in {where}: "
            + "; ".join(problems)
            + ". Install the same major versions there (pip install 'NAME==VERSION'), or "
            "rebuild and deploy the package from an environment like the target's"
        )
