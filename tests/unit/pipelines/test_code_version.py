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


class _RaisingProxy:
    """A lazy-module proxy as libraries keep in their globals (Polars' lazy imports raised
    TypeError from __getattr__ on Polars 1.34): reading any attribute fails."""

    def __getattr__(self, name: str):
        raise TypeError("'module' object does not support item assignment")


PROXY = _RaisingProxy()


def test_a_global_whose_attributes_raise_does_not_break_the_digest() -> None:
    """The digest walked the step's globals with getattr; a proxy that raised made the digest,
    so every run of the step, fail with the proxy's error."""

    def step_body(x):
        return PROXY if x is None else x

    first = step_code_digest(step_body)
    assert first == step_code_digest(step_body) and len(first) == 64


CACHED_HELPER = """
import functools

@functools.lru_cache(maxsize=None)
def clean(x):
    return x + {offset}
"""


def test_a_helper_behind_a_decorator_still_joins_the_digest(project_dir: Path) -> None:
    """lru_cache keeps the user's function in __wrapped__: its code is followed, so changing
    the cached helper changes the step's digest (a stale cache otherwise)."""
    digests = []
    for offset in (1, 2):
        name = write_project(project_dir)
        (project_dir / f"{name}.py").write_text(
            textwrap.dedent(HELPERS.format(rate=1, offset=0, factor=1))
            + textwrap.dedent(CACHED_HELPER.format(offset=offset)).replace("clean", "cached")
        )
        flow = (
            (project_dir / "flow.py").read_text().replace("helpers.clean(n)", "helpers.cached(n)")
        )
        (project_dir / "flow.py").write_text(flow)
        graph = fresh_flow(project_dir, name).compile()
        digests.append(graph.nodes["compute"].spec()["code"])
    assert digests[0] != digests[1]
