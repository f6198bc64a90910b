"""Where the demo projects' files come from, and how a demo folder is made from them.

An installed wheel carries them as package data in ``mloop/demo/projects/<name>`` (the
``force-include`` table of pyproject.toml copies ``examples/<name>`` there); an editable install
reads ``examples/<name>`` of the checkout behind it. The quickstart demos (``quickstart``,
``loop``, ``cicd``) all start from :func:`demo_source`, so this module is the one they share.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "projects"
"""The demo projects inside an installed wheel (``mloop/demo/projects/<name>``)."""
CHECKOUT = Path(__file__).resolve().parents[3]
"""The repository root, for an editable install (``<root>/src/mloop/demo/sources.py``)."""
DEMO = Path("examples") / "lending_club"
DEFAULT_TARGET = "mloop-quickstart"
_NOT_COPIED = shutil.ignore_patterns(".mloop", "__pycache__", "*.pyc")


def prepare_demo(project_dir: Path | None, *, fresh: bool = False) -> Path:
    """The folder holding the demo project, copied there first if needed (see module doc)."""
    from mloop.errors import ConfigError

    in_checkout = (Path.cwd() / DEMO / "mloop.yaml").is_file()
    folder = (project_dir or (DEMO if in_checkout else Path(DEFAULT_TARGET))).resolve()
    if fresh:
        shutil.rmtree(folder / ".mloop", ignore_errors=True)
    if (folder / "mloop.yaml").is_file():
        if fresh and folder != demo_source():
            _copy_demo(folder, overwrite=True)
        return folder
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(
            f"{folder} exists and is not the demo project (it has no mloop.yaml); "
            "choose another folder with --project-dir"
        )
    _copy_demo(folder, overwrite=False)
    return folder


def demo_source() -> Path:
    """The pristine Lending Club demo project: package data in a wheel, else the checkout of an
    editable install; raises ``ConfigError`` when neither is there."""
    from mloop.errors import ConfigError

    for candidate in (PACKAGED / "lending_club", CHECKOUT / DEMO):
        if (candidate / "mloop.yaml").is_file():
            return candidate
    raise ConfigError(
        f"the demo project is not installed in {PACKAGED} (no lending_club); "
        "reinstall mloop (pip install mloop) or run from a checkout of the repository"
    )


def _copy_demo(folder: Path, *, overwrite: bool) -> None:
    source = demo_source()
    if overwrite:
        for child in source.iterdir():  # refresh the demo's files, keep anything the user added
            dest = folder / child.name
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
    shutil.copytree(source, folder, ignore=_NOT_COPIED, dirs_exist_ok=True)
