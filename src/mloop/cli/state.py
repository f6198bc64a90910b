"""What the global options (``--env``, ``--project-dir``, ``--debug``) resolve to, per invocation.

Settings and the metadata store are opened only when a command asks for them, so that global
options cost nothing on ``--help``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typer import _click

    from mloop.config import Settings
    from mloop.metadata.base import MetadataStore


@dataclass
class CliState:
    """The global options of one ``mloop`` invocation; a command may override ``env``."""

    project_dir: Path | None = None
    env: str | None = None
    debug: bool = False

    def settings(self, env: str | None = None, project_dir: Path | None = None) -> Settings:
        """Resolved settings; a command's own ``--env``/``--project-dir`` win over the global."""
        from mloop.config import load_settings

        return load_settings(project_dir or self.project_dir, env=env or self.env)


def state_of(ctx: _click.Context) -> CliState:
    """The :class:`CliState` the root callback stored (a default one when invoked directly)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other URLs and in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


def store_exists(url: str) -> bool:
    """False only when the URL names a SQLite file that is not there yet (nothing was run)."""
    path = sqlite_file(url)
    return path is None or path.exists()


def missing_store_message(settings: Settings) -> str:
    """What to say when a command that only reads finds no store: where it looked, and how to
    get one (run something there, or point at the project that has one)."""
    path = sqlite_file(settings.metadata_url)
    where = str(path.resolve()) if path is not None else settings.metadata_url
    return (
        f"no mloop store at {where}; run 'mloop quickstart' or 'mloop run ...' there first, "
        "or pass --project-dir DIR (the folder that holds .mloop/ or mloop.yaml), "
        "e.g. mloop --project-dir examples/lending_club models list"
    )


def require_store(settings: Settings) -> None:
    """Raise ``NotFoundError`` (exit 2) when the metadata store does not exist yet, so that a
    command that only reads never creates an empty ``.mloop/mloop.db`` in the wrong folder."""
    from mloop.errors import NotFoundError

    if not store_exists(settings.metadata_url):
        raise NotFoundError(missing_store_message(settings))


@contextmanager
def open_store(url: str) -> Iterator[MetadataStore]:
    """The metadata store at ``url``; ``mloop.metadata.connect`` creates or reuses it (one per
    process and URL, shared with the runner), so it is left open on exit."""
    from mloop.metadata import connect

    yield connect(url)
