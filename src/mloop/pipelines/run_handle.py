"""The handle a pipeline run returns: its id, state, executions and outputs, read from the store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mloop.artifacts.base import ArtifactStore
from mloop.errors import NotFoundError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, EventKind, Execution, Run, RunState
from mloop.pipelines.materializers import load_value


class RunHandle:
    """A view of one run. Attributes are read fresh from the metadata store on each access."""

    def __init__(self, run_id: str, metadata: MetadataStore, artifacts: ArtifactStore) -> None:
        self.id = run_id
        self._metadata = metadata
        self._artifacts = artifacts

    @property
    def run(self) -> Run:
        return self._metadata.get_run(self.id)

    @property
    def state(self) -> RunState:
        return self.run.state

    @property
    def executions(self) -> list[Execution]:
        return self._metadata.list_executions(self.id)

    @property
    def metrics(self) -> dict[str, float]:
        """Latest value of each metric logged on the run."""
        return self._metadata.latest_metrics([self.id]).get(self.id, {})

    def artifacts(self, step: str) -> dict[str, Artifact]:
        """Output name -> artifact of the step's last successful (or cached) execution."""
        for ex in reversed(self.executions):
            if ex.step_name == step and ex.state.done_ok:
                return {
                    e.name: self._metadata.get_artifact(e.artifact_id)
                    for e in self._metadata.list_events(execution_id=ex.id)
                    if e.kind is EventKind.OUTPUT
                }
        raise NotFoundError(f"step {step!r} of run {self.id} has no successful execution")

    def output(self, step: str, name: str | None = None) -> Any:
        """Load a step's output value (verified against its digest)."""
        arts = self.artifacts(step)
        if name is None:
            if len(arts) != 1:
                raise NotFoundError(f"step {step!r} has outputs {sorted(arts)}; name one")
            (art,) = arts.values()
        elif name not in arts:
            raise NotFoundError(f"step {step!r} has no output {name!r}; it has {sorted(arts)}")
        else:
            art = arts[name]
        return load_value(self._artifacts, art.uri, art.materializer, digest=art.digest)

    @property
    def outputs(self) -> _Outputs:
        """``handle.outputs["train"]``: the step's value (a dict for several named outputs)."""
        return _Outputs(self)

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} {self.state.value}>"


class _Outputs(Mapping[str, Any]):
    def __init__(self, handle: RunHandle) -> None:
        self._handle = handle

    def _steps(self) -> list[str]:
        seen: dict[str, None] = {}
        for ex in self._handle.executions:
            if ex.state.done_ok:
                seen[ex.step_name] = None
        return list(seen)

    def __getitem__(self, step: str) -> Any:
        arts = self._handle.artifacts(step)
        if len(arts) == 1:
            return self._handle.output(step)
        return {name: self._handle.output(step, name) for name in arts}

    def __iter__(self) -> Iterator[str]:
        return iter(self._steps())

    def __len__(self) -> int:
        return len(self._steps())
