"""``mloop features apply|list|describe|materialize`` on a small repository."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mloop.cli.main import app

runner = CliRunner()

DEFINITIONS = """
from datetime import timedelta
from mloop.features import Entity, FeatureService, FeatureView, Field, FileSource, {dtype}, Int64

driver = Entity("driver", join_keys=["driver_id"])
driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    schema=[Field("rate", {dtype}), Field("trips", Int64)],
    source=FileSource("data/stats.parquet", created_timestamp_column="created"),
    ttl=timedelta(hours=2),
)
model_v1 = FeatureService("model_v1", [driver_stats[["rate"]]])
"""


def write_definitions(project_dir: Path, dtype: str = "Float64") -> None:
    (project_dir / "features.py").write_text(DEFINITIONS.format(dtype=dtype))


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_apply_list_describe(project_dir: Path, stats_path: Path) -> None:
    write_definitions(project_dir)
    result = invoke("features", "apply", "--json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.output)
    assert {(c["kind"], c["name"], c["action"]) for c in changes} == {
        ("entity", "driver", "create"),
        ("feature_view", "driver_stats", "create"),
        ("feature_service", "model_v1", "create"),
    }
    again = json.loads(invoke("features", "apply", "--json").output)
    assert {c["action"] for c in again} == {"unchanged"}
    listed = json.loads(invoke("features", "list", "--json").output)
    assert [(d["kind"], d["name"], d["version"]) for d in listed] == [
        ("entity", "driver", 1),
        ("feature_service", "model_v1", 1),
        ("feature_view", "driver_stats", 1),
    ]
    views = json.loads(invoke("features", "list", "--kind", "views", "--json").output)
    assert [d["name"] for d in views] == ["driver_stats"]
    human = invoke("features", "list")
    assert "driver_stats" in human.output and "rate, trips" in human.output
    described = json.loads(invoke("features", "describe", "driver_stats", "--json").output)
    assert described[0]["spec"]["ttl_s"] == 7200
    assert [h["version"] for h in described[0]["history"]] == [1]


def test_incompatible_change_needs_force(project_dir: Path, stats_path: Path) -> None:
    write_definitions(project_dir)
    invoke("features", "apply")
    write_definitions(project_dir, dtype="String")
    refused = runner.invoke(app, ["features", "apply"])
    assert refused.exit_code == 2
    assert "--force" in refused.output and "rate" in refused.output
    dry = invoke("features", "apply", "--dry-run", "--json")
    assert any(c["incompatible"] for c in json.loads(dry.output))
    forced = invoke("features", "apply", "--force")
    assert forced.exit_code == 0 and "update" in forced.output
    history = json.loads(invoke("features", "describe", "driver_stats", "--json").output)[0]
    assert history["history"][-1]["forced"] is True


def test_materialize_then_incremental(project_dir: Path, stats_path: Path) -> None:
    write_definitions(project_dir)
    invoke("features", "apply")
    first = invoke(
        "features", "materialize", "2024-01-01T00:30:00", "--start", "2024-01-01", "--json"
    )
    assert json.loads(first.stdout)[0]["rows"] == 2
    assert json.loads(first.stdout)[0]["outside_ttl"] == 2  # 2024 rows, 2 h ttl
    assert "warning:" in first.stderr and "OUTSIDE_MAX_AGE" in first.stderr
    second = json.loads(invoke("features", "materialize", "2024-01-02", "--json").stdout)
    assert second[0]["start"].startswith("2024-01-01T00:30:00")
    plain = invoke("features", "materialize", "2024-01-03", "--start", "2024-01-01")
    assert "materialized driver_stats: 2 entities" in plain.stdout
    assert "2 of 2 rows written for view 'driver_stats'" in plain.stderr
    bad = runner.invoke(app, ["features", "materialize", "yesterday"])
    assert bad.exit_code == 2 and "ISO-8601" in bad.output


def test_errors_are_one_line(project_dir: Path) -> None:
    missing = runner.invoke(app, ["features", "apply"])
    assert missing.exit_code == 2 and "features.py" in missing.output
    (project_dir / "features.py").write_text("raise RuntimeError('typo')\n")
    broken = runner.invoke(app, ["features", "apply"])
    assert broken.exit_code == 2 and "typo" in broken.output
    unknown = runner.invoke(app, ["features", "describe", "nope"])
    assert unknown.exit_code == 2 and "no mloop store" in unknown.output  # nothing applied yet
    assert len([line for line in unknown.output.splitlines() if line.strip()]) == 1
