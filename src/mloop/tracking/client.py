"""``TrackingClient``: the explicit (non-fluent) tracking API, for scripts, the CLI and the UI.

Every method names its run; nothing depends on an active run or on the current context.
Its calls are synchronous. When runs were started with async logging in this process, each
call first waits for their queued writes (read-your-writes, and writes land in call order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mloop.metadata.base import MetadataStore, MetricFilter
from mloop.metadata.entities import Metric, Run, RunState
from mloop.tracking.search import RunPage, search_runs
from mloop.tracking.write_behind import settle


class TrackingClient:
    """Read and write runs of ``store`` (default: the project's metadata store)."""

    def __init__(self, store: MetadataStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> MetadataStore:
        if self._store is None:
            from mloop.config import load_settings
            from mloop.metadata.connect import connect

            self._store = connect(load_settings().metadata_url)
        settle()
        return self._store

    def create_run(
        self,
        experiment: str = "default",
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        return self.store.create_run(experiment, name=run_name, tags=tags, leased=False)

    def end_run(self, run_id: str, state: RunState = RunState.SUCCEEDED) -> Run:
        return self.store.finish_run(run_id, RunState(state))

    def get_run(self, run_id: str) -> Run:
        """The run with this id or unique prefix (>= 6 characters)."""
        return self.store.get_run(run_id)

    def search_runs(
        self,
        experiment: str | None = None,
        *,
        pipeline_name: str | None = None,
        metric_filters: Sequence[MetricFilter] = (),
        states: Sequence[RunState | str] | None = None,
        order_by: str = "started_at",
        descending: bool = True,
        limit: int | None = None,
        page_token: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RunPage:
        """A page of runs (default 100), newest first by default, each with ``.params`` and
        ``.metrics`` (latest values); ``order_by="metric:auc"`` sorts by a latest metric.
        ``.next_page_token`` is set when more matched (see :mod:`mloop.tracking.search`)."""
        return search_runs(
            self.store,
            experiment=experiment,
            pipeline_name=pipeline_name,
            states=states,
            metric_filters=metric_filters,
            order_by=order_by,
            descending=descending,
            limit=limit,
            page_token=page_token,
            tags=tags,
        )

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.store.log_params(run_id, params)

    def log_metric(self, run_id: str, key: str, value: float, step: int = 0) -> None:
        """One value, written at once (use the fluent API or ``log_batch`` for many)."""
        self.store.log_metrics(run_id, [Metric(key, value, step)])

    def log_batch(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Many values in one transaction."""
        self.store.log_metrics(run_id, metrics)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.store.set_tags(run_id, tags)

    def get_params(self, run_id: str) -> dict[str, str]:
        return self.store.get_params(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value of ``key`` logged on the run, by step then time."""
        return self.store.get_metrics(run_id, key)

    def get_latest_metrics(self, run_id: str) -> dict[str, float]:
        """Key -> value at the highest step (then the latest time)."""
        return self.store.latest_metrics([run_id])[run_id]
