"""``RunWrites``: the tracking writes of one run, to be applied in one transaction with others.

The tracking API's write-behind writer (``mloop.tracking.write_behind``) and the end of a
synchronous run hand the store a list of these: a store then writes a thousand runs' rows
with one commit instead of four commits per run. Within one ``RunWrites`` the writes apply in
this order: the new run row, its tags, params, metric values, then its final state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mloop.metadata.entities import Metric, Run, RunState


@dataclass(frozen=True)
class RunFinish:
    """A run's final state, recorded at ``at`` (the time the caller ended it, aware UTC)."""

    state: RunState
    at: datetime
    error: str | None = None

    def __post_init__(self) -> None:
        if not RunState(self.state).finished:
            raise ValueError(f"RunFinish takes a final state, not {self.state!r}")


@dataclass
class RunWrites:
    """What to write for run ``run_id``: ``create`` (a RUNNING run to insert, its own
    ``started_at`` kept), tags (upserted), params (immutable: a changed value raises
    ``ValidationError``), metric values (appended) and ``finish``."""

    run_id: str
    create: Run | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    finish: RunFinish | None = None

    def __bool__(self) -> bool:
        return bool(self.create or self.tags or self.params or self.metrics or self.finish)
