"""The closed loop end to end: serve, drift, monitor, retrain, bless, swap with no failed request,
and one lineage chain in the metadata store from the report to the new serving version."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.config import load_settings
from mloop.demo.loop import DRIFT_THRESHOLD, MODEL, run_loop_quickstart
from mloop.metadata import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_drift_retrains_and_the_service_swaps_without_errors(project_dir: Path) -> None:
    lines: list[str] = []
    result = run_loop_quickstart(project_dir / "loop", echo=lines.append, timeout_s=85)

    assert result.failed == 0 and result.requests > 50
    assert result.champion_version == 1 and result.new_version == 2
    assert set(result.served_versions) == {"1", "2"}  # answered before and after the swap
    assert result.share_drifted is not None and result.share_drifted >= DRIFT_THRESHOLD
    assert result.stages["total"] < 90

    store = connect(load_settings(result.project_dir).metadata_url)
    assert [link.kind for link in result.chain] == [
        "monitoring_report",
        "trigger_event",
        "run",
        "model_version",
        "alias",
    ]
    event = store.controller_state().get_event(result.event_id)
    assert event.kind == "drift" and event.payload["report_id"] == result.report_id
    run = store.get_run(event.run_id)
    assert run.trigger == f"drift:{event.id}" and run.pipeline_params["C"] == 0.12
    version = store.model_registry().get_version(MODEL, result.new_version)
    assert version.run_id == run.id
    assert store.model_registry().get_alias(MODEL, "production") == result.new_version
    report = store.monitoring().get_report(result.report_id)
    assert report.version == "1" and report.share_drifted == result.share_drifted
    assert any("fired" in line for line in lines)
