"""Monitoring jobs over a partitioned prediction log on the test Ray cluster (one task per
log file): the report, its alerts and the CLI's answer equal the local job's."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _kit_test() -> Any:
    """tests/unit/monitoring/test_partitioned.py (its scenario constants and comparisons)."""
    import importlib.util
    import sys

    name = "mloop_tests_monitoring_partitioned"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "unit" / "monitoring" / "test_partitioned.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_monitoring_on_ray_equals_the_local_job(ray_cluster, project_dir, monitoring_kit):
    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.monitoring import run_monitoring
    from mloop.monitoring.jobs import compute_report
    from mloop.monitoring.windows import LogWindow, window_files

    t = _kit_test()
    project = monitoring_kit.Project(project_dir)
    versions = monitoring_kit.partitioned_log(project, t.NOW.astimezone(timezone.utc))
    store, artifacts = project.store(), connect_artifacts(load_settings().artifact_root)
    window = LogWindow.ending("credit", timedelta(hours=1), t.NOW)
    assert len(window_files(project.log_dir, "predictions", window)) >= 6
    local = compute_report(store, artifacts, project.log_dir, window)

    on_ray = run_monitoring(
        "credit",
        window="1h",
        now=t.NOW,
        runner="ray",
        address=ray_cluster.address,
        group_bytes=1,  # one task per file
        rules=t.RULES,
    )
    assert t.differences(t.comparable(on_ray), t.comparable(local)) == []
    fired = sorted(name for name, verdict in t.verdicts(local) if verdict)
    assert fired and sorted(a.rule for a in on_ray.alerts) == fired
    assert on_ray.shadow[str(versions["shadow"])]["rows"] == 200

    # the CLI watches the window ending now: log some of it, then ask both runners
    ids = project.serve(versions["champion"], rows=40, seed=9, feedback=0.5, nulls=0.2)
    project.serve(versions["shadow"], rows=40, seed=9, route="shadow", request_ids=ids)
    from mloop.cli.main import app

    answers = []
    for runner in ("ray", "local"):
        args = ["monitor", "run", "-m", "credit", "--window", "1h", "--runner", runner, "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.output))
    skip = {*t.VOLATILE, "window_start", "window_end"}
    ray_cli, local_cli = ({k: v for k, v in a.items() if k not in skip} for a in answers)
    assert ray_cli["num_rows"] == 40 and ray_cli["labelled_rows"] > 0
    assert t.differences(ray_cli, local_cli) == []


def test_monitoring_runner_is_checked(project_dir):
    from mloop.errors import ConfigError
    from mloop.monitoring import run_monitoring

    with pytest.raises(ConfigError, match="local or ray"):
        run_monitoring("credit", runner="spark", record=False)
