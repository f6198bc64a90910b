"""Lifecycle hooks: how anything outside the runner (progress bars, tracking, gates) follows a run.

A hook subclasses :class:`RunHook` and overrides what it needs; the runner calls every hook in
order, from the thread that drives the run (never from a step's worker thread), so a hook needs
no locking. A hook that raises fails the run: hooks are part of the pipeline's contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the graph module imports nothing from here; this is for annotations only
    from mloop.metadata.entities import Execution, Run
    from mloop.pipelines.graph import PipelineGraph


class RunHook:
    """No-op base: override the events you care about."""

    def on_run_start(self, run: Run, graph: PipelineGraph) -> None:
        """The run row exists; ``graph.steps`` lists every step in topological order."""

    def on_step_start(self, run: Run, execution: Execution) -> None:
        """A step began executing (not called for cached or skipped steps)."""

    def on_step_end(self, run: Run, execution: Execution) -> None:
        """A step reached a final state: succeeded, failed, cached or skipped."""

    def on_run_end(self, run: Run) -> None:
        """The run reached its final state (``run.state``)."""
