"""Monitoring jobs over real prediction logs (mloop.serving's writer) of registered models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mloop.errors import ModelNotFoundError
from mloop.monitoring import list_reports, render_html, run_monitoring

pytestmark = pytest.mark.slow  # real models and logs: a few seconds a file

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def served(project):
    """Version 1 in production; a stable hour, then an hour whose inputs shifted."""
    version = project.register()
    project.serve(version, at=NOW - timedelta(minutes=90), seed=3, feedback=1.0)
    project.serve(version, at=NOW - timedelta(minutes=30), seed=4, shift=1.5, feedback=0.5)
    return project


def test_stable_window_is_not_drifted(served) -> None:
    report = run_monitoring("credit", window="1h", now=NOW - timedelta(hours=1))
    assert report.num_rows == 400 and report.num_requests == 100 and report.version == "1"
    assert report.requests == 100 and report.failed_requests == 0 and report.error_rate == 0.0
    assert report.reference_source == "computed_from_training_data"
    assert any("computed from the training dataset" in n for n in report.notes)
    assert report.share_drifted == 0.0 and not report.dataset_drifted
    assert report.prediction_drift is not None and not report.prediction_drift.drifted_features


def test_shifted_window_is_drifted(served) -> None:
    report = run_monitoring("credit", window="1h", now=NOW)
    assert report.num_rows == 400
    assert set(report.drift.drifted_features) == {"income", "age"}
    assert report.share_drifted == pytest.approx(2 / 3) and report.dataset_drifted
    assert "city" not in report.drift.drifted_features
    # the model says "yes" far more often on richer, older applicants
    assert report.prediction_drift.drifted_features


def test_live_performance_from_feedback(served) -> None:
    report = run_monitoring("credit", window="1h", now=NOW - timedelta(hours=1))
    assert report.labelled_rows == 400
    assert report.metrics["accuracy"] > 0.9 and report.metrics["roc_auc"] > 0.95
    assert report.metrics["misclassification_rate"] == pytest.approx(1 - report.metrics["accuracy"])
    half = run_monitoring("credit", window="1h", now=NOW)
    assert half.labelled_rows == 200  # feedback for half of the requests
    assert report.latency_ms == {"p50": 5.0, "p99": 5.0}


def test_report_is_recorded_with_lineage_and_html(served, tmp_path) -> None:
    first = run_monitoring("credit", window="1h", now=NOW - timedelta(hours=1))
    second = run_monitoring("credit", window="1h", now=NOW)
    store = served.store()
    rows = list_reports("credit")
    assert [r.id for r in rows] == [second.id, first.id]
    assert rows[0].dataset_drifted and rows[0].share_drifted == pytest.approx(2 / 3)
    assert rows[1].summary["metrics"]["accuracy"] == first.metrics["accuracy"]
    artifact = store.get_artifact(second.artifact_id)
    assert artifact.type == "MonitoringReport"
    (execution,) = store.list_executions(second.run_id)
    events = {e.kind.value: e.artifact_id for e in store.list_events(execution_id=execution.id)}
    assert events == {"input": second.reference_artifact_id, "output": second.artifact_id}
    page = render_html("credit", rows, second, store.monitoring().list_alerts("credit"))
    assert '<script src="http' not in page and "Plotly.newPlot" in page
    assert "share drifted" in page and "income" in page


def test_empty_window_and_unregistered_reference(project) -> None:
    with pytest.raises(ModelNotFoundError, match="holds no log of it"):
        run_monitoring("credit", window="1h")
    version = project.register(with_data=False)
    empty = run_monitoring("credit", window="1h")
    assert empty.num_rows == 0 and empty.share_drifted is None and empty.notes
    project.serve(version, at=NOW - timedelta(minutes=90), seed=3)
    project.serve(version, at=NOW - timedelta(minutes=30), seed=4, shift=2.0)
    report = run_monitoring("credit", window="1h", now=NOW)
    assert report.reference_source == "previous_window"
    assert any("neither a Statistics artifact" in n for n in report.notes)
    assert {"income", "age"} <= set(report.drift.drifted_features)


def test_statistics_artifact_of_the_producing_run_is_the_reference(project) -> None:
    version = project.register(with_statistics=True)
    project.serve(version, at=NOW - timedelta(minutes=30), seed=4, shift=1.5)
    report = run_monitoring("credit", window="1h", now=NOW)
    assert report.reference_source == "statistics_artifact"
    kind = project.store().get_artifact(report.reference_artifact_id).type
    assert kind == "Statistics" and not any("computed" in n for n in report.notes)
    assert set(report.drift.drifted_features) == {"income", "age"}


def test_shadow_rows_stay_out_of_live_figures(project) -> None:
    """A canary answers part of the traffic, a shadow sees copies of the champion's requests:
    live counts, metrics and per-version figures hold only what users were answered from."""
    champion = project.register()
    canary = project.register(alias=False)
    shadow = project.register("constant", alias=False)
    at = NOW - timedelta(minutes=20)
    ids = project.serve(champion, rows=280, at=at, seed=11, feedback=1.0)
    project.serve(canary, rows=120, at=at, seed=12, feedback=1.0, route="canary")
    project.serve(shadow, rows=280, at=at, seed=11, route="shadow", request_ids=ids)
    report = run_monitoring("credit", window="1h", now=NOW)
    assert report.num_rows == 400 and report.num_requests == 100
    assert report.labelled_rows == 400 and report.requests == 100
    assert report.versions == {str(champion): 280, str(canary): 120}
    assert set(report.by_version) == {str(champion), str(canary)}
    assert report.metrics["accuracy"] > 0.9  # the constant shadow would drag it down
    part = report.shadow[str(shadow)]
    assert part["rows"] == 280 and part["requests"] == 70 and part["labelled_rows"] == 280
    assert part["metrics"]["accuracy"] < report.metrics["accuracy"]
    assert report.to_dict()["shadow"][str(shadow)]["rows"] == 280
    alone = run_monitoring("credit", window="1h", now=NOW, record=False)
    assert alone.num_rows == 400


def test_window_with_only_shadow_rows_has_no_live_rows(project) -> None:
    champion = project.register()
    shadow = project.register("constant", alias=False)
    project.serve(shadow, rows=40, at=NOW - timedelta(minutes=20), route="shadow")
    report = run_monitoring("credit", window="1h", now=NOW, record=False)
    assert champion == 1 and report.num_rows == 0 and report.labelled_rows == 0
    assert report.shadow[str(shadow)]["rows"] == 40
    assert any("only shadow" in n for n in report.notes)
