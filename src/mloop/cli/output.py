"""Where the CLI writes: Rich consoles for people, plain JSON on stdout for machines.

Every listing takes ``--json``; its keys are stable (documented in docs/cli.md) and times are
ISO-8601 UTC strings, durations seconds.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


UNBOUNDED_WIDTH = 100_000
"""Columns of a console that does not write to a terminal: piped output is never cut."""


@lru_cache(maxsize=1)
def console() -> Console:
    """The stdout console (created on first use: importing Rich costs ~40 ms)."""
    return _console_class()(highlight=False)


@lru_cache(maxsize=1)
def err_console() -> Console:
    return _console_class()(stderr=True, highlight=False)


@lru_cache(maxsize=1)
def _console_class() -> type[Console]:
    """A Rich console as wide as its terminal, and unbounded when it writes to a pipe or file.

    Rich takes the width of whichever standard stream is a terminal (else 80 columns), so
    ``mloop runs list | cat`` would cut ids and paths to ``…``. Whether the console writes to a
    terminal is asked at every print (tests and redirections swap ``sys.stdout``)."""
    from rich.console import Console, ConsoleDimensions

    class PipeFriendlyConsole(Console):
        @property
        def size(self) -> ConsoleDimensions:
            measured = Console.size.fget(self)  # type: ignore[attr-defined]
            if self.is_terminal or self._width is not None:
                return measured
            return ConsoleDimensions(UNBOUNDED_WIDTH, measured.height)

        @size.setter
        def size(self, new_size: tuple[int, int]) -> None:
            Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    return PipeFriendlyConsole


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def print_json(data: Any) -> None:
    """Pretty JSON on stdout, bypassing Rich (no wrapping, no colour, parseable when piped)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_default, sort_keys=False) + "\n")
    sys.stdout.flush()


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Duration in seconds, or None when either end is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def format_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``2 min 5 s``; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def format_time(value: datetime | None, *, short: bool = False) -> str:
    """Local wall-clock time of a UTC datetime, to the second (``short``: month to minute)."""
    if value is None:
        return "—"
    return value.astimezone().strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")


STATE_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "succeeded": "green",
    "cached": "cyan",
    "failed": "bold red",
    "skipped": "dim",
    "abandoned": "magenta",
}


def state_value(state: Any) -> str:
    """The string of a state enum (``ExecutionState.CACHED`` -> ``"cached"``) or plain string."""
    return str(getattr(state, "value", state))


def styled_state(state: str) -> str:
    """A state wrapped in Rich markup with its colour."""
    return f"[{STATE_STYLES.get(state, 'white')}]{state}[/]"
