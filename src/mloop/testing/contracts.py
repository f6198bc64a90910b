"""Contract test suites that every backend of an mloop ABC must pass.

The metadata store's suite is one class per role of ``mloop.metadata.roles``
(``RunStoreContract``, ``RunLeaseStoreContract``, ``ExecutionStoreContract``,
``LineageStoreContract``, ``TrackingStoreContract``, ``FileFingerprintStoreContract``);
``MetadataStoreContract`` combines them.

Subclass, set ``__test__ = True`` and override the ``store`` fixture (Dagster's ``TestRunStorage``
pattern)::

    class TestMyStore(MetadataStoreContract):
        __test__ = True

        @pytest.fixture
        def store(self, tmp_path):
            s = MyStore.open(...)
            yield s
            s.close()
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.config import Settings
from mloop.errors import (
    ArtifactNotFoundError,
    ExecutionNotFoundError,
    MigrationRequiredError,
    RunNotFoundError,
    StepExecutionError,
    StepTimeoutError,
    StoreError,
    ValidationError,
)
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import (
    Artifact,
    EventKind,
    Execution,
    ExecutionState,
    Metric,
    Run,
    RunState,
)
from mloop.metadata.sql import migrate, schema
from mloop.metadata.sql.store import SqlMetadataStore
from mloop.pipelines.dsl import Pipeline, pipeline, step
from mloop.pipelines.hooks import RunHook
from mloop.pipelines.run_handle import RunHandle

__all__ = [
    "MetadataStoreContract",
    "RunnerContract",
    "check_fresh_store_matches_schema",
    "check_migrations",
    "make_artifact",
]


def make_artifact(artifact_id: str | None = None, **overrides: object) -> Artifact:
    """An artifact row with plausible values, for tests."""
    values: dict[str, object] = {
        "id": artifact_id or new_id(),
        "type": "Dataset",
        "uri": f"runs/x/{artifact_id or 'a'}",
        "digest": "0" * 64,
        "size": 123,
        "created_at": utc_now(),
        "materializer": "json",
        "properties": {"rows": 3, "columns": ["a", "b"]},
    }
    values.update(overrides)
    return Artifact(**values)  # type: ignore[arg-type]


def _aware_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


class _StoreFixture:
    """The ``store`` fixture every metadata contract class uses: a fresh, empty store. The
    role contracts set up what they test through other roles too (an execution needs a run),
    so each takes a whole :class:`~mloop.metadata.base.MetadataStore`."""

    __test__ = False

    @pytest.fixture
    def store(self) -> Iterator[MetadataStore]:
        raise NotImplementedError("override the `store` fixture in the backend's test class")


class RunStoreContract(_StoreFixture):
    """Behaviour of runs and pipelines (:class:`~mloop.metadata.roles.RunStore`)."""

    def test_upsert_pipeline_is_idempotent(self, store: MetadataStore) -> None:
        first = store.upsert_pipeline("training", "v1", {"steps": ["a", "b"]})
        again = store.upsert_pipeline("training", "v1", {"steps": ["ignored"]})
        assert again == first
        assert first.spec == {"steps": ["a", "b"]}
        assert _aware_utc(first.created_at)
        other = store.upsert_pipeline("training", "v2", {"steps": []})
        assert other.version == "v2" and other.spec == {"steps": []}

    def test_create_run_starts_running_with_a_lease(self, store: MetadataStore) -> None:
        run = store.create_run(
            "exp",
            name="first",
            pipeline_name="training",
            pipeline_version="v1",
            pipeline_params={"n": 3, "nested": {"a": [1, 2]}},
            trigger="manual",
            environment="dev",
            tags={"team": "risk"},
        )
        got = store.get_run(run.id)
        assert got == run
        assert got.state is RunState.RUNNING and got.ended_at is None
        assert _aware_utc(got.started_at) and _aware_utc(got.heartbeat_at)
        assert got.pipeline_params == {"n": 3, "nested": {"a": [1, 2]}}
        assert got.tags == {"team": "risk"}

    def test_create_run_with_an_existing_id_is_refused(self, store: MetadataStore) -> None:
        store.create_run("exp", run_id="fixedrunid0001")
        with pytest.raises(ValidationError, match="already exists"):
            store.create_run("exp", run_id="fixedrunid0001")

    def test_get_run_by_unique_prefix(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        assert store.get_run(run.id[:8]).id == run.id
        assert store.get_run(run.id.upper()[:10]).id == run.id

    def test_get_run_rejects_short_ambiguous_and_unknown_ids(self, store: MetadataStore) -> None:
        store.create_run("exp", run_id="abcdef0001")
        store.create_run("exp", run_id="abcdef0002")
        with pytest.raises(ValidationError, match="ambiguous"):
            store.get_run("abcdef")
        assert store.get_run("abcdef0002").id == "abcdef0002"
        with pytest.raises(RunNotFoundError):
            store.get_run("abcde")  # shorter than 6 characters: never a prefix
        with pytest.raises(RunNotFoundError):
            store.get_run("zzzzzzzz")
        with pytest.raises(RunNotFoundError):
            store.get_run("abc%ef")

    def test_search_runs_filters_by_columns(self, store: MetadataStore) -> None:
        a = store.create_run("exp-a", pipeline_name="training")
        b = store.create_run("exp-a")
        c = store.create_run("exp-b", pipeline_name="training")
        store.finish_run(b.id, RunState.SUCCEEDED)
        assert [r.id for r in store.search_runs(experiment="exp-a")] == [b.id, a.id]
        assert {r.id for r in store.search_runs(pipeline_name="training")} == {a.id, c.id}
        assert [r.id for r in store.search_runs(states=[RunState.SUCCEEDED])] == [b.id]
        assert [r.id for r in store.search_runs(descending=False)] == [a.id, b.id, c.id]
        assert [r.id for r in store.search_runs(limit=1, offset=1)] == [b.id]
        assert store.search_runs(experiment="nobody") == []

    def test_search_runs_by_latest_metric(self, store: MetadataStore) -> None:
        ids = []
        for auc in (0.7, 0.9, 0.85):
            run = store.create_run("exp", tags={"auc": str(auc)})
            store.log_metrics(run.id, [Metric("auc", 0.1, step=0), Metric("auc", auc, step=1)])
            ids.append(run.id)
        bare = store.create_run("exp")  # no metric: sorts last, never passes a filter
        best = store.search_runs(metric_filters=[("auc", ">", 0.8)], order_by="metric:auc")
        assert [r.id for r in best] == [ids[1], ids[2]]
        assert best[0].tags == {"auc": "0.9"}
        both = store.search_runs(metric_filters=[("auc", ">=", 0.7), ("auc", "<", 0.9)])
        assert {r.id for r in both} == {ids[0], ids[2]}
        ascending = store.search_runs(order_by="metric:auc", descending=False)
        assert [r.id for r in ascending] == [ids[0], ids[2], ids[1], bare.id]
        descending = store.search_runs(order_by="metric:auc", limit=2)
        assert [r.id for r in descending] == [ids[1], ids[2]]
        assert [r.id for r in store.search_runs(metric_filters=[("auc", "=", 0.7)])] == [ids[0]]

    def test_search_runs_by_tags(self, store: MetadataStore) -> None:
        """Every tag must match exactly; tags set after the start count; a value with quotes,
        unicode and SQL wildcards is compared as text."""
        odd = "it's 100% ü_*"
        a = store.create_run("exp", tags={"team": "risk", "stage": "prod"})
        b = store.create_run("exp", tags={"team": "risk"})
        store.create_run("exp", tags={"team": "riskier"})  # a prefix is no match
        d = store.create_run("exp")
        store.set_tags(d.id, {"team": "risk", "note": odd})
        store.finish_run(b.id, RunState.SUCCEEDED)
        found = store.search_runs(tags={"team": "risk"}, descending=False)
        assert [r.id for r in found] == [a.id, b.id, d.id]
        both = store.search_runs(tags={"team": "risk", "stage": "prod"})
        assert [r.id for r in both] == [a.id] and both[0].tags == {"team": "risk", "stage": "prod"}
        assert [r.id for r in store.search_runs(tags={"note": odd})] == [d.id]
        assert store.search_runs(tags={"note": "it's 100% %"}) == []
        assert [
            r.id for r in store.search_runs(tags={"team": "risk"}, states=[RunState.SUCCEEDED])
        ] == [b.id]
        paged = store.search_runs(tags={"team": "risk"}, limit=1, offset=1)  # d, b, a
        assert [r.id for r in paged] == [b.id]
        assert store.search_runs(tags={}) == store.search_runs()
        with pytest.raises(ValidationError, match="tag filter"):
            store.search_runs(tags={"team": 1})  # type: ignore[dict-item]

    def test_search_runs_rejects_bad_arguments(self, store: MetadataStore) -> None:
        with pytest.raises(ValidationError, match="order_by"):
            store.search_runs(order_by="name")
        with pytest.raises(ValidationError, match="operator"):
            store.search_runs(metric_filters=[("auc", "~", 0.5)])  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="limit"):
            store.search_runs(limit=-1)


class RunLeaseStoreContract(_StoreFixture):
    """Behaviour of leases, reaping and resume (:class:`~mloop.metadata.roles.RunLeaseStore`)."""

    def test_finish_and_reopen_run(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        failed = store.finish_run(run.id, RunState.FAILED, error="boom")
        assert failed.state is RunState.FAILED and failed.error == "boom"
        assert _aware_utc(failed.ended_at) and failed.ended_at >= run.started_at  # type: ignore[operator]
        reopened = store.finish_run(run.id, RunState.RUNNING)
        assert reopened.state is RunState.RUNNING
        assert reopened.ended_at is None and reopened.error is None
        with pytest.raises(RunNotFoundError):
            store.finish_run("nosuchrun0000", RunState.SUCCEEDED)

    def test_heartbeat_renews_run_and_running_executions(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        running = store.create_execution(run.id, "a")
        pending = store.create_execution(run.id, "b", state=ExecutionState.PENDING)
        store.heartbeat(run.id)
        assert store.get_run(run.id).heartbeat_at >= run.heartbeat_at  # type: ignore[operator]
        assert store.get_execution(running.id).heartbeat_at >= running.heartbeat_at  # type: ignore[operator]
        assert store.get_execution(pending.id).heartbeat_at is None
        with pytest.raises(RunNotFoundError):
            store.heartbeat("nosuchrun0000")

    def test_reap_abandoned_marks_stale_runs_and_their_open_executions(
        self, store: MetadataStore
    ) -> None:
        stale = store.create_run("exp")
        done_ex = store.create_execution(stale.id, "done")
        store.finish_execution(done_ex.id, ExecutionState.SUCCEEDED)
        running_ex = store.create_execution(stale.id, "running")
        pending_ex = store.create_execution(stale.id, "pending", state=ExecutionState.PENDING)
        finished = store.create_run("exp")
        store.finish_run(finished.id, RunState.SUCCEEDED)
        later = utc_now() + timedelta(hours=1)
        assert store.reap_abandoned(3600 * 2, now=later) == []  # lease not expired yet
        fresh = store.create_run("exp")
        store.heartbeat(fresh.id)
        reaped = store.reap_abandoned(60, now=later)
        assert set(reaped) == {stale.id, fresh.id}
        assert store.get_run(stale.id).state is RunState.ABANDONED
        assert store.get_run(stale.id).ended_at is not None
        assert store.get_run(finished.id).state is RunState.SUCCEEDED
        assert store.get_execution(done_ex.id).state is ExecutionState.SUCCEEDED
        assert store.get_execution(running_ex.id).state is ExecutionState.ABANDONED
        assert store.get_execution(pending_ex.id).state is ExecutionState.ABANDONED
        assert store.reap_abandoned(60, now=later) == []  # already marked

    def test_a_run_without_a_lease_is_never_reaped(self, store: MetadataStore) -> None:
        tracking = store.create_run("exp", leased=False)  # a tracking run: no heartbeats
        leased = store.create_run("exp")
        assert store.get_run(tracking.id).heartbeat_at is None
        later = utc_now() + timedelta(days=1)
        assert store.reap_abandoned(60, now=later) == [leased.id]
        assert store.get_run(tracking.id).state is RunState.RUNNING
        assert store.get_run(tracking.id).ended_at is None

    def test_reap_abandoned_reads_a_naive_now_as_utc(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        naive_later = (utc_now() + timedelta(minutes=10)).replace(tzinfo=None)
        assert store.reap_abandoned(60, now=naive_later) == [run.id]

    def test_run_records_host_pid_and_options(self, store: MetadataStore) -> None:
        run = store.create_run("exp", host="h1", pid=42, options={"cache": False})
        got = store.get_run(run.id)
        assert (got.host, got.pid, got.options) == ("h1", 42, {"cache": False})
        assert store.create_run("exp").options == {}
        store.finish_run(run.id, RunState.FAILED, error="boom")
        reopened = store.reopen_run(run.id, host="h2", pid=7)
        assert reopened.state is RunState.RUNNING and reopened.ended_at is None
        assert (reopened.host, reopened.pid, reopened.options) == ("h2", 7, {"cache": False})
        assert reopened.error is None

    def test_abandon_runs_marks_only_running_runs(self, store: MetadataStore) -> None:
        alive, done = store.create_run("exp"), store.create_run("exp")
        ex = store.create_execution(alive.id, "s")
        store.finish_run(done.id, RunState.SUCCEEDED)
        assert store.abandon_runs([alive.id, done.id, "nosuchrun0000"]) == [alive.id]
        assert store.get_run(alive.id).state is RunState.ABANDONED
        assert store.get_run(done.id).state is RunState.SUCCEEDED
        assert store.get_execution(ex.id).state is ExecutionState.ABANDONED


class ExecutionStoreContract(_StoreFixture):
    """Behaviour of executions and the cache (:class:`~mloop.metadata.roles.ExecutionStore`)."""

    def test_create_execution_records_input_events(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        producer = store.create_execution(run.id, "ingest")
        data = make_artifact()
        store.finish_execution(
            producer.id, ExecutionState.SUCCEEDED, new_artifacts=[data], outputs={"out": data.id}
        )
        consumer = store.create_execution(
            run.id,
            "train",
            code_digest="c" * 64,
            cache_key="k" * 64,
            params={"depth": 3},
            inputs={"data": data.id},
        )
        assert consumer.state is ExecutionState.RUNNING and _aware_utc(consumer.started_at)
        assert store.get_execution(consumer.id) == consumer
        [event] = store.list_events(execution_id=consumer.id)
        assert (event.artifact_id, event.kind, event.name) == (data.id, EventKind.INPUT, "data")
        kinds = {(e.execution_id, e.kind) for e in store.list_events(artifact_id=data.id)}
        assert kinds == {(producer.id, EventKind.OUTPUT), (consumer.id, EventKind.INPUT)}

    def test_create_execution_checks_ids(self, store: MetadataStore) -> None:
        with pytest.raises(RunNotFoundError):
            store.create_execution("nosuchrun0000", "a")
        run = store.create_run("exp")
        with pytest.raises(ArtifactNotFoundError):
            store.create_execution(run.id, "a", inputs={"x": "nosuchartifact"})
        assert store.list_executions(run.id) == []

    def test_finish_execution_writes_artifacts_events_and_state(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        ex = store.create_execution(run.id, "train")
        model, report = make_artifact(type="Model"), make_artifact(type="Report")
        done = store.finish_execution(
            ex.id,
            ExecutionState.SUCCEEDED,
            new_artifacts=[model, report],
            outputs={"model": model.id, "report": report.id},
            attempts=2,
            log_uri="logs/train.log",
        )
        assert done.state is ExecutionState.SUCCEEDED and _aware_utc(done.ended_at)
        assert (done.attempts, done.log_uri) == (2, "logs/train.log")
        assert store.get_artifact(model.id) == model
        outs = {e.name: e.artifact_id for e in store.list_events(execution_id=ex.id)}
        assert outs == {"model": model.id, "report": report.id}

    def test_finish_execution_is_atomic(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        first = store.create_execution(run.id, "a")
        taken = make_artifact()
        store.finish_execution(first.id, ExecutionState.SUCCEEDED, new_artifacts=[taken])
        ex = store.create_execution(run.id, "b")
        fresh = make_artifact()
        with pytest.raises(StoreError):
            store.finish_execution(
                ex.id,
                ExecutionState.SUCCEEDED,
                new_artifacts=[fresh, make_artifact(taken.id)],  # the second id is taken
                outputs={"out": fresh.id},
            )
        assert store.get_execution(ex.id).state is ExecutionState.RUNNING
        assert store.list_events(execution_id=ex.id) == []
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact(fresh.id)
        with pytest.raises(ArtifactNotFoundError):
            store.finish_execution(ex.id, ExecutionState.FAILED, outputs={"x": "nosuchartifact"})
        assert store.get_execution(ex.id).state is ExecutionState.RUNNING
        failed = store.finish_execution(ex.id, ExecutionState.FAILED, error="ValueError: bad")
        assert (failed.state, failed.error) == (ExecutionState.FAILED, "ValueError: bad")

    def test_list_executions_in_creation_order(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        names = [f"step{i}" for i in range(12)]
        for name in names:
            store.create_execution(run.id, name)
        other = store.create_run("exp")
        store.create_execution(other.id, "elsewhere")
        assert [e.step_name for e in store.list_executions(run.id)] == names

    def test_find_cached_returns_newest_reusable_execution(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        assert store.find_cached("key") is None
        old = store.create_execution(run.id, "a", cache_key="key")
        store.finish_execution(old.id, ExecutionState.SUCCEEDED)
        cached = store.create_execution(
            run.id, "a", cache_key="key", state=ExecutionState.CACHED, cached_from=old.id
        )
        failed = store.create_execution(run.id, "a", cache_key="key")
        store.finish_execution(failed.id, ExecutionState.FAILED)
        store.create_execution(run.id, "a", cache_key="key")  # still running: not reusable
        found = store.find_cached("key")
        assert found is not None and found.id == cached.id and found.cached_from == old.id
        assert store.find_cached("other") is None


class LineageStoreContract(_StoreFixture):
    """Behaviour of artifacts and events (:class:`~mloop.metadata.roles.LineageStore`)."""

    def test_unknown_ids_raise_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(ExecutionNotFoundError):
            store.get_execution("nosuchexecution")
        with pytest.raises(ExecutionNotFoundError):
            store.finish_execution("nosuchexecution", ExecutionState.SUCCEEDED)
        with pytest.raises(ExecutionNotFoundError):
            store.list_events(execution_id="nosuchexecution")
        with pytest.raises(ArtifactNotFoundError):
            store.get_artifact("nosuchartifact")
        with pytest.raises(ArtifactNotFoundError):
            store.list_events(artifact_id="nosuchartifact")
        with pytest.raises(RunNotFoundError):
            store.list_executions("nosuchrun0000")
        for call in (
            lambda: store.log_params("nosuchrun0000", {"a": 1}),
            lambda: store.log_metrics("nosuchrun0000", [Metric("a", 1.0)]),
            lambda: store.set_tags("nosuchrun0000", {"a": "b"}),
            lambda: store.get_params("nosuchrun0000"),
            lambda: store.get_metrics("nosuchrun0000"),
        ):
            with pytest.raises(RunNotFoundError):
                call()

    def test_list_events_takes_exactly_one_id(self, store: MetadataStore) -> None:
        with pytest.raises(ValidationError):
            store.list_events()
        with pytest.raises(ValidationError):
            store.list_events(execution_id="a", artifact_id="b")

    def test_input_artifacts_are_inserted_once_and_found_by_uri(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        art = make_artifact("f" * 32, type="File", uri="file:///data/in.parquet")
        for _ in range(2):  # the same content read twice: one artifact, two events
            store.create_execution(run.id, "s", inputs={"path": art.id}, input_artifacts=[art])
        (found,) = store.find_artifacts(["file:///data/in.parquet", "file:///data"])
        assert found.id == art.id and found.type == "File"
        assert len(store.list_events(artifact_id=art.id)) == 2
        assert store.find_artifacts(["file:///nothing"]) == []


class TrackingStoreContract(_StoreFixture):
    """Behaviour of params, metrics, tags (:class:`~mloop.metadata.roles.TrackingStore`)."""

    def test_params_are_strings_and_immutable(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        store.log_params(run.id, {"depth": 6, "lr": 0.1, "name": "gbm"})
        store.log_params(run.id, {"depth": 6})  # same value again: fine
        assert store.get_params(run.id) == {"depth": "6", "lr": "0.1", "name": "gbm"}
        with pytest.raises(ValidationError, match="depth"):
            store.log_params(run.id, {"new": 1, "depth": 7})
        assert "new" not in store.get_params(run.id)  # the whole call was rolled back

    def test_metrics_history_and_latest(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        ex = store.create_execution(run.id, "train")
        store.log_metrics(
            run.id,
            [
                Metric("loss", 0.5, step=1, timestamp=t0),
                Metric("loss", 0.9, step=0, timestamp=t0 + timedelta(seconds=5)),
                Metric("auc", 0.7, step=3, timestamp=t0, execution_id=ex.id),
            ],
        )
        store.log_metrics(run.id, [Metric("loss", 0.8, step=0)])  # a lower step, logged later
        store.log_metrics(run.id, [Metric("auc", 0.75, step=3, timestamp=t0 + timedelta(1))])
        history = store.get_metrics(run.id)
        assert [(m.key, m.step, m.value) for m in history] == [
            ("auc", 3, 0.7),
            ("auc", 3, 0.75),
            ("loss", 0, 0.9),
            ("loss", 0, 0.8),
            ("loss", 1, 0.5),
        ]
        assert history[0].execution_id == ex.id and history[1].execution_id is None
        assert all(_aware_utc(m.timestamp) for m in history)
        assert [m.value for m in store.get_metrics(run.id, "loss")] == [0.9, 0.8, 0.5]
        assert store.latest_metrics([run.id]) == {run.id: {"loss": 0.5, "auc": 0.75}}

    def test_non_finite_metric_values_round_trip(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        store.log_metrics(
            run.id,
            [Metric("a", math.nan), Metric("b", math.inf), Metric("c", -math.inf, step=2)],
        )
        values = {m.key: m.value for m in store.get_metrics(run.id)}
        assert math.isnan(values["a"]) and values["b"] == math.inf and values["c"] == -math.inf
        latest = store.latest_metrics([run.id])[run.id]
        assert math.isnan(latest["a"]) and latest["b"] == math.inf
        assert store.search_runs(metric_filters=[("a", ">", 0.0)]) == []
        assert [r.id for r in store.search_runs(metric_filters=[("b", ">", 1e308)])] == [run.id]

    def test_non_numeric_metric_is_rejected_naming_the_key(self, store: MetadataStore) -> None:
        run = store.create_run("exp")
        with pytest.raises(ValidationError, match="'acc'"):
            store.log_metrics(run.id, [Metric("ok", 1.0), Metric("acc", "high")])  # type: ignore[arg-type]
        assert store.get_metrics(run.id) == []

    def test_latest_metrics_of_several_runs(self, store: MetadataStore) -> None:
        a, b = store.create_run("exp"), store.create_run("exp")
        store.log_metrics(a.id, [Metric("auc", 0.6)])
        result = store.latest_metrics([a.id, b.id, "nosuchrun0000"])
        assert result == {a.id: {"auc": 0.6}, b.id: {}, "nosuchrun0000": {}}
        assert store.latest_metrics([]) == {}

    def test_tags_are_upserted(self, store: MetadataStore) -> None:
        run = store.create_run("exp", tags={"a": "1"})
        store.set_tags(run.id, {"a": "2", "b": "x"})
        assert store.get_run(run.id).tags == {"a": "2", "b": "x"}
        assert store.search_runs()[0].tags == {"a": "2", "b": "x"}

    def test_record_runs_writes_many_runs_in_one_call(self, store: MetadataStore) -> None:
        from mloop.metadata.run_writes import RunFinish, RunWrites

        t0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        old = store.create_run("exp", tags={"a": "1"})
        new = Run(
            id="newrun00000000000000000001",
            experiment="exp",
            state=RunState.RUNNING,
            started_at=t0,
            heartbeat_at=t0,
            name="n",
            tags={"t": "x"},
        )
        store.record_runs(
            [
                RunWrites(
                    new.id,
                    create=new,
                    tags={"u": "y"},
                    params={"lr": "0.1"},
                    metrics=[Metric("auc", 0.7, 0, t0), Metric("auc", 0.8, 1, t0)],
                    finish=RunFinish(RunState.FAILED, t0 + timedelta(seconds=3), "boom"),
                ),
                RunWrites(
                    old.id, tags={"a": "2"}, params={"k": "v"}, metrics=[Metric("loss", 0.5)]
                ),
                RunWrites("emptyrun000000"),  # nothing to write: ignored
            ]
        )
        got = store.get_run(new.id)
        assert (got.state, got.error, got.name) == (RunState.FAILED, "boom", "n")
        assert got.started_at == t0 and got.ended_at == t0 + timedelta(seconds=3)
        assert got.tags == {"t": "x", "u": "y"} and got.heartbeat_at == t0
        assert store.get_params(new.id) == {"lr": "0.1"}
        assert store.latest_metrics([new.id, old.id]) == {
            new.id: {"auc": 0.8},
            old.id: {"loss": 0.5},
        }
        assert store.get_run(old.id).state is RunState.RUNNING
        assert store.get_run(old.id).tags == {"a": "2"} and store.get_params(old.id) == {"k": "v"}

    def test_record_runs_lands_whole_or_not_at_all(self, store: MetadataStore) -> None:
        from mloop.metadata.run_writes import RunFinish, RunWrites

        now = datetime.now(timezone.utc)
        fresh = Run(
            id="freshrun000000000000000001",
            experiment="exp",
            state=RunState.RUNNING,
            started_at=now,
            heartbeat_at=now,
        )
        with pytest.raises(RunNotFoundError):
            store.record_runs(
                [
                    RunWrites(fresh.id, create=fresh, params={"a": "1"}),
                    RunWrites("nosuchrun0000", finish=RunFinish(RunState.SUCCEEDED, now)),
                ]
            )
        with pytest.raises(RunNotFoundError):
            store.get_run(fresh.id)
        kept = store.create_run("exp")
        store.log_params(kept.id, {"a": "1"})
        with pytest.raises(ValidationError, match="'a'"):
            store.record_runs(
                [
                    RunWrites(kept.id, params={"a": "2"}, metrics=[Metric("m", 1.0)]),
                    RunWrites(fresh.id, create=fresh),
                ]
            )
        assert store.get_metrics(kept.id) == [] and store.get_params(kept.id) == {"a": "1"}
        with pytest.raises(RunNotFoundError):
            store.get_run(fresh.id)


class FileFingerprintStoreContract(_StoreFixture):
    """Behaviour of the input file memo (``MetadataStore.file_fingerprints``)."""

    def test_file_fingerprints_are_upserted_per_host(self, store: MetadataStore) -> None:
        from mloop.metadata.file_fingerprints import FileFingerprint

        memo = store.file_fingerprints()
        memo.put("h1", [FileFingerprint("/a", 1, 10, "d1"), FileFingerprint("/b", 2, 20, "d2")])
        memo.put("h1", [FileFingerprint("/a", 3, 30, "d3")])
        assert memo.get("h1", ["/a", "/b", "/c"]) == {
            "/a": FileFingerprint("/a", 3, 30, "d3"),
            "/b": FileFingerprint("/b", 2, 20, "d2"),
        }
        assert memo.get("h2", ["/a"]) == {} and memo.get("h1", []) == {}


class FeatureDefinitionStoreContract(_StoreFixture):
    """Behaviour of the feature definitions (``MetadataStore.feature_definitions``)."""

    def test_the_generation_changes_with_each_recorded_version_only(
        self, store: MetadataStore
    ) -> None:
        rows = store.feature_definitions()
        empty = rows.generation()
        assert rows.generation() == empty  # reading changes nothing
        rows.record("feature_view", "fv", "d1", {"name": "fv", "ttl": 60})
        first = rows.generation()
        assert first != empty
        rows.record("feature_view", "fv", "d1", {"name": "fv", "ttl": 60})  # same digest
        assert rows.generation() == first
        rows.record("feature_view", "fv", "d2", {"name": "fv", "ttl": 30})
        assert rows.generation() not in (empty, first)


class MetadataStoreContract(
    RunStoreContract,
    RunLeaseStoreContract,
    ExecutionStoreContract,
    LineageStoreContract,
    TrackingStoreContract,
    FileFingerprintStoreContract,
    FeatureDefinitionStoreContract,
):
    """Behaviour every :class:`~mloop.metadata.base.MetadataStore` must have: every role's
    contract (a backend's test class subclasses this and overrides the ``store`` fixture)."""

    __test__ = False


# -- schema versions (SQL backends) ---------------------------------------------------------------
def check_migrations(url: str) -> None:
    """On an EMPTY database at ``url``: refuse to create with migrate=False, upgrade from empty
    with the Alembic chain, compare with schema.py, refuse a newer revision, then recover."""
    with pytest.raises(MigrationRequiredError, match="mloop db upgrade"):
        SqlMetadataStore.open(url, migrate=False)  # empty database, not allowed to create
    assert migrate.current_revision(url) is None
    assert migrate.upgrade(url) == (None, schema.HEAD_REVISION)
    assert migrate.current_revision(url) == schema.HEAD_REVISION
    assert migrate.schema_differences(url) == []
    assert migrate.upgrade(url) == (schema.HEAD_REVISION, schema.HEAD_REVISION)
    store = SqlMetadataStore.open(url, migrate=False)  # migrated by the chain: accepted
    run = store.create_run("exp")
    store.close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    for allowed in (True, False):
        with pytest.raises(MigrationRequiredError, match="upgrade mloop"):
            SqlMetadataStore.open(url, migrate=allowed)
    with pytest.raises(MigrationRequiredError, match="upgrade mloop"):
        migrate.upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE alembic_version SET version_num = '{schema.HEAD_REVISION}'"))
    engine.dispose()
    store = SqlMetadataStore.open(url)
    assert store.get_run(run.id).id == run.id
    store.close()


def check_fresh_store_matches_schema(url: str) -> None:
    """On an EMPTY database: the fast create-and-stamp path gives exactly schema.py's schema."""
    store = SqlMetadataStore.open(url)  # the fast path: create_all + stamp
    store.close()
    assert migrate.current_revision(url) == schema.HEAD_REVISION
    assert migrate.schema_differences(url) == []


# -- runners -------------------------------------------------------------------------------------
# The pipelines of the runner contract live here, in an importable module, so that a runner that
# ships steps to other processes (Ray) can import them by name on its workers.


def _bump(folder: str, name: str) -> int:
    """Count calls of a step in a file of ``folder`` (the runner may call it in another
    process); returns the count including this call."""
    path = Path(folder) / f"{name}.count"
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


# ``folder`` is where the steps keep their call counts, not an input: detect_files=False.
@step(detect_files=False)
def contract_source(n: int, folder: str) -> list[int]:
    _bump(folder, "source")
    return list(range(n))


@step
def contract_double(values: list[int]) -> list[int]:
    return [2 * v for v in values]


@step
def contract_square(values: list[int]) -> list[int]:
    return [v * v for v in values]


@step(detect_files=False)
def contract_join(left: list[int], right: list[int], folder: str) -> dict[str, Any]:
    if (Path(folder) / "break_join").exists():
        raise ValueError("join is broken on purpose (break_join exists)")
    return {"sum": sum(left) + sum(right), "n": len(left)}


@step(retries=2, retry_backoff_s=0.01, detect_files=False)
def contract_flaky(values: list[int], folder: str) -> int:
    if _bump(folder, "flaky") < 3:
        raise ConnectionError("flaky on purpose: fails on its first two attempts")
    return len(values)


@step(timeout_s=0.5, cache=False)
def contract_sleepy(values: list[int], seconds: float) -> int:
    import time

    time.sleep(seconds)
    return len(values)


@step
def contract_after(count: int) -> int:
    return count + 1


@pipeline
def contract_diamond(n: int = 5, folder: str = "."):
    values = contract_source(n, folder)
    contract_join(contract_double(values), contract_square(values), folder)


@pipeline
def contract_retrying(n: int = 4, folder: str = "."):
    contract_flaky(contract_source(n, folder), folder)


@pipeline
def contract_timing_out(n: int = 3, folder: str = ".", seconds: float = 3.0):
    contract_after(contract_sleepy(contract_source(n, folder), seconds))


class _Recorder(RunHook):
    def __init__(self) -> None:
        import threading

        self.events: list[tuple[str, str, str]] = []
        self.threads: set[int] = set()
        self._ident = threading.get_ident

    def on_step_start(self, run: Run, execution: Execution) -> None:
        self.threads.add(self._ident())
        self.events.append(("start", execution.step_name, execution.state.value))

    def on_step_end(self, run: Run, execution: Execution) -> None:
        self.threads.add(self._ident())
        self.events.append(("end", execution.step_name, execution.state.value))


class RunnerContract:
    """Behaviour every :class:`~mloop.pipelines.runners.base.Runner` must have: the same
    outputs, lineage, caching, retries, timeouts, failure handling, resume and hook calls as
    the local runner. Override ``settings`` (the stores and ``runner:`` to use)."""

    __test__ = False

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        raise NotImplementedError("override the `settings` fixture in the runner's test class")

    @pytest.fixture
    def folder(self, tmp_path: Path) -> str:
        path = tmp_path / "contract-work"
        path.mkdir()
        return str(path)

    def _run(self, flow: Pipeline, settings: Settings, **kwargs: Any) -> RunHandle:
        params = kwargs.pop("params", {})
        return flow.run_with(params, settings=settings, **kwargs)

    def test_outputs_and_lineage(self, settings: Settings, folder: str) -> None:
        from mloop.metadata import connect as connect_metadata
        from mloop.metadata.entities import EventKind, ExecutionState, RunState

        handle = self._run(contract_diamond, settings, params={"n": 5, "folder": folder})
        assert handle.state is RunState.SUCCEEDED
        assert handle.outputs["contract_join"] == {"sum": 20 + 30, "n": 5}
        md = connect_metadata(settings.metadata_url)
        by_step = {e.step_name: e for e in handle.executions}
        assert {s: e.state for s, e in by_step.items()} == dict.fromkeys(
            ["contract_source", "contract_double", "contract_square", "contract_join"],
            ExecutionState.SUCCEEDED,
        )
        produced = {
            (e.execution_id, e.name): e.artifact_id
            for ex in handle.executions
            for e in md.list_events(execution_id=ex.id)
            if e.kind is EventKind.OUTPUT
        }
        join_inputs = {
            e.name: e.artifact_id
            for e in md.list_events(execution_id=by_step["contract_join"].id)
            if e.kind is EventKind.INPUT
        }
        assert join_inputs == {
            "left": produced[(by_step["contract_double"].id, "output")],
            "right": produced[(by_step["contract_square"].id, "output")],
        }
        from mloop.artifacts import connect as connect_artifacts

        store = connect_artifacts(settings.artifact_root)
        for artifact_id in produced.values():
            artifact = md.get_artifact(artifact_id)
            assert store.exists(artifact.uri)
            with store.open_local(artifact.uri, digest=artifact.digest):
                pass  # the digest recorded is the digest of the bytes stored
        assert (Path(folder) / "source.count").read_text() == "1"

    def test_second_run_is_served_from_the_cache(self, settings: Settings, folder: str) -> None:
        from mloop.metadata.entities import ExecutionState

        first = self._run(contract_diamond, settings, params={"n": 4, "folder": folder})
        again = self._run(contract_diamond, settings, params={"n": 4, "folder": folder})
        assert {e.state for e in again.executions} == {ExecutionState.CACHED}
        sources = {e.step_name: e.id for e in first.executions}
        assert {e.step_name: e.cached_from for e in again.executions} == sources
        assert again.artifacts("contract_join") == first.artifacts("contract_join")
        assert (Path(folder) / "source.count").read_text() == "1"
        uncached = self._run(
            contract_diamond, settings, params={"n": 4, "folder": folder}, cache=False
        )
        assert {e.state for e in uncached.executions} == {ExecutionState.SUCCEEDED}

    def test_retries_are_recorded_as_attempts(self, settings: Settings, folder: str) -> None:
        from mloop.metadata.entities import ExecutionState

        handle = self._run(contract_retrying, settings, params={"folder": folder})
        (flaky,) = [e for e in handle.executions if e.step_name == "contract_flaky"]
        assert flaky.state is ExecutionState.SUCCEEDED and flaky.attempts == 3
        assert handle.outputs["contract_flaky"] == 4

    def test_failure_skips_downstream_and_resume_completes(
        self, settings: Settings, folder: str
    ) -> None:
        from mloop.metadata.entities import ExecutionState, RunState

        (Path(folder) / "break_join").write_text("yes")
        with pytest.raises(StepExecutionError, match="broken on purpose") as info:
            self._run(contract_diamond, settings, params={"n": 3, "folder": folder})
        assert info.value.step_name == "contract_join"
        assert isinstance(info.value.__cause__, ValueError)
        run_id = info.value.run_id
        from mloop.metadata import connect as connect_metadata

        md = connect_metadata(settings.metadata_url)
        assert md.get_run(run_id).state is RunState.FAILED
        states = {e.step_name: e.state for e in md.list_executions(run_id)}
        assert states["contract_join"] is ExecutionState.FAILED
        assert states["contract_double"] is ExecutionState.SUCCEEDED

        (Path(folder) / "break_join").unlink()
        handle = self._run(contract_diamond, settings, params={}, resume=run_id)
        assert handle.id == run_id and handle.state is RunState.SUCCEEDED
        assert handle.outputs["contract_join"] == {"sum": 6 + 5, "n": 3}
        history = [(e.step_name, e.state) for e in md.list_executions(run_id)]
        assert history.count(("contract_source", ExecutionState.SUCCEEDED)) == 1
        assert ("contract_join", ExecutionState.FAILED) in history
        assert ("contract_join", ExecutionState.SUCCEEDED) in history
        assert (Path(folder) / "source.count").read_text() == "1"

    def test_timeout_fails_the_step_and_skips_downstream(
        self, settings: Settings, folder: str
    ) -> None:
        from mloop.metadata.entities import ExecutionState

        with pytest.raises(StepTimeoutError, match=r"timed out after 0\.5 s") as info:
            self._run(contract_timing_out, settings, params={"folder": folder, "seconds": 3.0})
        from mloop.metadata import connect as connect_metadata

        md = connect_metadata(settings.metadata_url)
        states = {e.step_name: e.state for e in md.list_executions(info.value.run_id)}
        assert states == {
            "contract_source": ExecutionState.SUCCEEDED,
            "contract_sleepy": ExecutionState.FAILED,
            "contract_after": ExecutionState.SKIPPED,
        }

    def test_hooks_run_in_the_driving_thread_in_order(
        self, settings: Settings, folder: str
    ) -> None:
        import threading

        recorder = _Recorder()
        self._run(contract_diamond, settings, params={"n": 2, "folder": folder}, hooks=[recorder])
        assert recorder.threads == {threading.get_ident()}
        for name in ("contract_source", "contract_double", "contract_square", "contract_join"):
            assert recorder.events.index(("start", name, "running")) < recorder.events.index(
                ("end", name, "succeeded")
            )
        ends = [name for kind, name, _ in recorder.events if kind == "end"]
        assert ends[0] == "contract_source" and ends[-1] == "contract_join"
