"""Per-execution captured logs: print() output and ``logging`` records of one step, to a file.

Steps may run in parallel threads, so capture is keyed on a context variable: the process-wide
stdout/stderr proxies and the logging handler write a line to the file of the step running in
the current thread, and still pass everything through to the terminal.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

_sink: contextvars.ContextVar[TextIO | None] = contextvars.ContextVar(
    "mloop_log_sink", default=None
)
_install_lock = threading.Lock()
_installed = False


class _TeeStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: copies writes to the current step's log file."""

    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is not None:
            sink.write(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.original.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class _StepLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = _sink.get()
        if sink is not None:
            sink.write(self.format(record) + "\n")


def _install() -> None:
    """Wrap the current streams (again, if something like pytest swapped them) and add the
    logging handler once."""
    global _installed
    with _install_lock:
        if not isinstance(sys.stdout, _TeeStream):
            sys.stdout = _TeeStream(sys.stdout)
        if not isinstance(sys.stderr, _TeeStream):
            sys.stderr = _TeeStream(sys.stderr)
        if not _installed:
            handler = _StepLogHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            logging.getLogger().addHandler(handler)
            _installed = True


class LazyLogFile:
    """A log file opened on the first write, so a step that prints nothing costs no file."""

    def __init__(self, open_path: Callable[[], Path]) -> None:
        self._open_path = open_path
        self._file: TextIO | None = None
        self.path: Path | None = None

    def write(self, text: str) -> int:
        if self._file is None:
            self.path = self._open_path()
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)
        return self._file.write(text)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@contextmanager
def capture_logs(log: LazyLogFile) -> Iterator[LazyLogFile]:
    """Send this thread's prints and log records to ``log`` while inside."""
    _install()
    token = _sink.set(log)  # type: ignore[arg-type]
    try:
        yield log
    finally:
        _sink.reset(token)
