"""The runner contract: execute a compiled graph for one run, reporting through hooks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from mloop.metadata.entities import Artifact, Run
from mloop.pipelines.graph import PipelineGraph
from mloop.pipelines.hooks import RunHook


class Runner(ABC):
    """Executes the steps of ``graph`` that are not in ``done`` and returns the final run.

    ``done`` maps step names already completed (on resume) to their outputs; a runner must not
    run them again. Step failures are recorded, not raised; the run's state says how it ended.
    """

    @abstractmethod
    def execute(
        self,
        run: Run,
        graph: PipelineGraph,
        *,
        done: Mapping[str, Mapping[str, Artifact]],
        hooks: Sequence[RunHook],
    ) -> tuple[Run, list[BaseException]]:
        """Run the graph; returns the finished run and the step errors, in the order they came."""
