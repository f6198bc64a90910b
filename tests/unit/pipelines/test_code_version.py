"""A step's code digest covers the user's helpers it calls, not only its own source (issue 15)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from pathlib import Path

from mloop.pipelines.code_version import _helpers, step_code_digest
from mloop.pipelines.loading import load_pipeline

HELPERS = """
import json

RATE = {rate}

def clean(x):
    return _inner(x) + {offset}

def _inner(x):
    return x * RATE

class Scaler:
    def apply(self, x):
        return x * {factor}
"""

FLOW = """
import {helpers} as helpers
from {helpers} import Scaler
from mloop import pipeline, step

@step
def compute(n: int) -> float:
    return Scaler().apply(helpers.clean(n))

@pipeline
def flow(n: int = 2):
    compute(n)
"""


def write_project(folder: Path, **values: float) -> str:
    name = f"helpers_{uuid.uuid4().hex[:8]}"
    spec = {"rate": 1, "offset": 0, "factor": 1} | values
    (folder / f"{name}.py").write_text(textwrap.dedent(HELPERS.format(**spec)))
    (folder / "flow.py").write_text(textwrap.dedent(FLOW.format(helpers=name)))
    return name


def fresh_flow(folder: Path, helpers: str):
    """Load flow.py again, as a new process would (forget the cached modules)."""
    for name in [
        n for n, m in sys.modules.items() if n == helpers or n.startswith("mloop_user_flow")
    ]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return load_pipeline(f"{folder / 'flow.py'}:flow")


def digest_of(folder: Path, helpers: str) -> str:
    flow = fresh_flow(folder, helpers)
    (node,) = list(flow.compile())
    return node.step.code_digest


def test_helper_function_class_and_constant_changes_change_the_digest(project_dir: Path):
    helpers = write_project(project_dir)
    base = digest_of(project_dir, helpers)
    assert digest_of(project_dir, helpers) == base  # stable

    seen = set()
    for change in ({"offset": 1}, {"factor": 3}, {"rate": 2}):
        spec = {"rate": 1, "offset": 0, "factor": 1} | change
        (project_dir / f"{helpers}.py").write_text(textwrap.dedent(HELPERS.format(**spec)))
        seen.add(digest_of(project_dir, helpers))
    assert base not in seen and len(seen) == 3


def test_library_code_is_not_followed():
    import json

    def uses_libraries(x):
        return json.dumps(textwrap.dedent(str(x)))

    helpers, constants = _helpers(uses_libraries)
    assert helpers == {} and constants == {}
    assert step_code_digest(uses_libraries) == step_code_digest(uses_libraries)


def test_changed_helper_reruns_the_step(project_dir: Path):
    helpers = write_project(project_dir)
    first = fresh_flow(project_dir, helpers).run()
    assert first.outputs["compute"] == 2
    again = fresh_flow(project_dir, helpers).run()
    assert [e.state.value for e in again.executions] == ["cached"]

    (project_dir / f"{helpers}.py").write_text(
        textwrap.dedent(HELPERS.format(rate=1, offset=10, factor=1))
    )
    changed = fresh_flow(project_dir, helpers).run()
    assert [e.state.value for e in changed.executions] == ["succeeded"]
    assert changed.outputs["compute"] == 12


def test_the_digest_does_not_depend_on_where_the_pipeline_file_lies(tmp_path) -> None:
    """A pipeline file loaded by path is named after its absolute path; the digest must not
    be, or another checkout (CI) or an unpacked pipeline package misses the cache."""
    from mloop.pipelines.code_version import step_code_digest
    from mloop.pipelines.loading import load_pipeline

    source = (
        "from mloop import pipeline, step\n"
        "LIMIT = 3\n"
        "def helper(x):\n    return min(x, LIMIT)\n"
        "@step\ndef s(x: int = 1) -> int:\n    return helper(x)\n"
        "@pipeline\ndef p():\n    s()\n"
    )
    digests = []
    for folder in ("one", "two/deeper"):
        path = tmp_path / folder / "flow.py"
        path.parent.mkdir(parents=True)
        path.write_text(source)
        module = load_pipeline(f"{path}:p")
        digests.append(step_code_digest(module.func.__globals__["s"].func))
    assert digests[0] == digests[1]
