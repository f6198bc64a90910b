"""Every kind of the one backend table has a contract suite in mloop.testing, and every
built-in backend has a test class running that suite: here, or in tests/integration for those
that need a service (PostgreSQL, a Ray cluster, S3)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from mloop import plugins
from mloop.testing import SUITES

TESTS = Path(__file__).resolve().parents[1]
# Other names for a class another name of the kind already covers (the local store by scheme).
ALIASES = {("artifact_stores", "file"): "local"}


def _covering_classes() -> dict[tuple[str, str], set[str]]:
    """``(kind, name)`` -> the suite classes the test classes declaring it subclass."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted([*TESTS.glob("contracts/*.py"), *TESTS.glob("integration/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and [getattr(t, "id", None) for t in stmt.targets] == ["backend"]
                    and isinstance(stmt.value, ast.Tuple)
                ):
                    kind, name = (ast.literal_eval(e) for e in stmt.value.elts)
                    bases = {getattr(b, "id", None) for b in node.bases}
                    found.setdefault((kind, name), set()).update(b for b in bases if b)
    return found


def test_every_kind_has_an_importable_suite() -> None:
    assert set(SUITES) == set(plugins.BUILTINS)
    for path in SUITES.values():
        module, _, name = path.partition(":")
        suite = getattr(importlib.import_module(module), name)
        assert isinstance(suite, type) and suite.__test__ is False


def test_every_builtin_runs_its_kinds_suite() -> None:
    covered = _covering_classes()
    missing = []
    for kind, names in plugins.BUILTINS.items():
        suite = SUITES[kind].partition(":")[2]
        for name in names:
            key = (kind, ALIASES.get((kind, name), name))
            if suite not in covered.get(key, set()):
                missing.append(f"{kind}:{name}")
    assert not missing, f"built-ins without a contract test class: {missing}"
