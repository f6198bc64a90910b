"""The CLI's error boundary: an ``MloopError`` becomes ONE red line on stderr and exit code 2.

Anything else is a bug in mloop and keeps its traceback. ``--debug`` shows the traceback of
every error.
"""

from __future__ import annotations

import sys

EXIT_USER_ERROR = 2
"""Exit code for an error the user can fix (bad argument, missing run, failed step)."""

EXIT_INTERRUPTED = 130


def one_line(exc: BaseException) -> str:
    """The first line of the message; a failed step's traceback is left to ``mloop runs show``."""
    lines = [p.strip() for p in str(exc).splitlines() if p.strip()]
    text = lines[0] if lines else type(exc).__name__
    run_id = getattr(exc, "run_id", None)
    if run_id and len(lines) > 1:
        text += f" (traceback: mloop runs show {run_id})"
    return text


def print_error(exc: BaseException) -> None:
    """Write ``error: <message>`` in red on stderr, never wrapped onto a second line."""
    from rich.text import Text

    from mloop.cli.output import err_console

    text = Text("error: ", style="bold red")
    text.append(one_line(exc), style="red")
    err_console().print(text, soft_wrap=True)
    sys.stderr.flush()
