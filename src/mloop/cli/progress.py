"""Live progress of a pipeline run: one line per step with its state and duration.

:class:`LiveProgressHook` is a :class:`~mloop.pipelines.hooks.RunHook`; the runner calls it from
the thread driving the run. A Rich ``Live`` display redraws the table (a spinner beside running
steps) about ten times a second; on a non-terminal output only the final table is printed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from mloop.cli.output import STATE_STYLES, format_duration, seconds_between, state_value
from mloop.pipelines.hooks import RunHook

if TYPE_CHECKING:
    from mloop.metadata.entities import Execution, Run
    from mloop.pipelines.graph import PipelineGraph

_ICONS = {
    "pending": "·",
    "succeeded": "✔",
    "cached": "↺",
    "failed": "✘",
    "skipped": "-",
    "abandoned": "?",
}


@dataclass
class StepLine:
    """What the display knows about one step; ``seconds`` is its wall-clock duration."""

    name: str
    state: str = "pending"
    started: float | None = None  # time.perf_counter() when it began, while it runs
    seconds: float | None = None
    attempts: int = 0
    note: str = ""


class LiveProgressHook(RunHook):
    """Follow a run on the console; use as a context manager so the display always stops."""

    def __init__(self, console: Console, *, title: str | None = None) -> None:
        self.console = console
        self.title = title
        self.lines: dict[str, StepLine] = {}
        self.run_id: str | None = None
        self.run_state: str | None = None
        self._spinner = Spinner("dots", style="yellow")
        self._live: Live | None = None

    # -- RunHook --------------------------------------------------------------------------------
    def on_run_start(self, run: Run, graph: PipelineGraph) -> None:
        self.run_id = run.id
        self.title = self.title or f"{graph.name} · run {run.id}"
        self.lines = {node.name: StepLine(node.name) for node in graph.steps}
        if self._live is None:
            self._live = Live(self, console=self.console, refresh_per_second=10, transient=False)
            self._live.start()

    def on_step_start(self, run: Run, execution: Execution) -> None:
        line = self.lines.setdefault(execution.step_name, StepLine(execution.step_name))
        line.state = "running"
        line.started = time.perf_counter()
        self._refresh()

    def on_step_end(self, run: Run, execution: Execution) -> None:
        line = self.lines.setdefault(execution.step_name, StepLine(execution.step_name))
        state = state_value(execution.state)
        recorded = seconds_between(execution.started_at, execution.ended_at)
        if state in ("cached", "skipped"):
            line.seconds = None
        elif recorded is not None:  # the store's times: right even if events arrive late
            line.seconds = recorded
        elif line.started is not None:
            line.seconds = time.perf_counter() - line.started
        line.state, line.started, line.attempts = state, None, execution.attempts
        self._refresh()

    def on_run_end(self, run: Run) -> None:
        self.run_state = state_value(run.state)
        for line in self.lines.values():
            if line.state == "pending":  # untouched: it succeeded before this run was resumed
                line.state, line.note = "succeeded", "before resume"
        self.close()

    # -- display --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the live display, printing its final state once (idempotent)."""
        live, self._live = self._live, None
        if live is not None:
            live.update(self, refresh=True)
            live.stop()
            if not self.console.is_terminal:
                self.console.line()  # the last frame ends without a newline off a terminal

    def __enter__(self) -> LiveProgressHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def __rich__(self) -> Any:
        table = Table.grid(padding=(0, 2))
        table.add_column(width=1)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for line in self.lines.values():
            style = STATE_STYLES.get(line.state, "white")
            if line.state == "running":
                icon: Any = self._spinner
                elapsed = time.perf_counter() - line.started if line.started else None
                duration = format_duration(elapsed)
            else:
                icon = Text(_ICONS.get(line.state, "?"), style=style)
                duration = format_duration(line.seconds) if line.seconds is not None else ""
            notes = [line.note] if line.note else []
            notes += [f"{line.attempts} attempts"] if line.attempts > 1 else []
            state = line.state + (f" ({', '.join(notes)})" if notes else "")
            table.add_row(icon, line.name, Text(state, style=style), duration)
        header = Text(self.title or "run", style="bold")
        return Group(header, table)
