"""``from mloop.components import statistics`` is the step, whatever was imported before: the
submodule of the same name once replaced it (a test importing the module first broke another)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["statistics", "validate", "infer_schema"])
def test_the_step_survives_an_import_of_its_module(name: str) -> None:
    module = {"infer_schema": "schema"}.get(name, name)
    code = (
        f"import mloop.components.{module}\n"
        f"from mloop.components import {name}\n"
        "import types\n"
        f"assert not isinstance({name}, types.ModuleType), {name}\n"
        f"assert callable({name})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
