"""Late rows (event time behind the watermark, landed after a materialization) reach the online
store, and ``audit`` compares online values with point-in-time offline reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mloop.cli.main import app
from mloop.features import Entity, FeatureView, Field, FileSource, Float64, Int64
from mloop.features.online_stores.base import OnlineRows
from mloop.features.store import FeatureStore

NOW = datetime.now(timezone.utc).replace(microsecond=0)
REFS = ["stats:rate", "stats:trips"]


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def write_part(folder: Path, name: str, rows: list[tuple], created: bool = True) -> None:
    """One Parquet file of (driver_id, event time, created time, rate, trips) rows."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "driver_id": [r[0] for r in rows],
        "event_timestamp": [r[1] for r in rows],
        "rate": [r[3] for r in rows],
        "trips": [r[4] for r in rows],
    }
    if created:
        data["created"] = [r[2] for r in rows]
    pl.DataFrame(data).write_parquet(folder / f"{name}.parquet")


def make_store(project_dir: Path, *, created: bool, **view_options) -> FeatureStore:
    view = FeatureView(
        "stats",
        [Entity("driver", join_keys=["driver_id"])],
        [Field("rate", Float64), Field("trips", Int64)],
        FileSource("data/stats", created_timestamp_column="created" if created else None),
        ttl=timedelta(days=1),
        **view_options,
    )
    store = FeatureStore(project_dir)
    store.apply([view])
    return store


def rates(store: FeatureStore, ids=(1, 2)) -> list:
    return store.get_online_features(REFS, [{"driver_id": i} for i in ids]).to_dict()["rate"]


def first_load(project_dir: Path, created: bool = True) -> Path:
    folder = project_dir / "data" / "stats"
    write_part(
        folder, "a", [(1, ago(180), ago(180), 0.1, 1), (2, ago(120), ago(120), 0.2, 2)], created
    )
    return folder


def test_a_late_row_is_caught_by_its_created_time(project_dir: Path) -> None:
    folder = first_load(project_dir)
    store = make_store(project_dir, created=True)
    store.materialize_incremental(ago(60))
    assert rates(store) == [0.1, 0.2]
    # landed now, with event times behind the watermark (now - 60 min)
    write_part(folder, "late", [(1, ago(90), NOW, 0.15, 3), (2, ago(150), NOW, 0.05, 4)])
    (result,) = store.materialize_incremental(NOW)
    assert result.start == ago(60) and result.late_rows  # lookback 0: created time does it
    # driver 1's late row is newer than what online held; driver 2's is older: not written
    assert rates(store) == [0.15, 0.2]
    assert store.audit(sample=10).ok
    store.close()


def test_a_correction_at_the_same_event_time_wins_by_created_time(project_dir: Path) -> None:
    folder = first_load(project_dir)
    store = make_store(project_dir, created=True)
    store.materialize_incremental(ago(60))
    write_part(folder, "fix", [(2, ago(120), NOW, 0.25, 2)])  # same event time, created later
    store.materialize_incremental(NOW)
    assert rates(store) == [0.1, 0.25]
    store.close()


def test_without_created_time_the_lookback_catches_late_rows(project_dir: Path) -> None:
    folder = first_load(project_dir, created=False)
    store = make_store(project_dir, created=False)  # default lookback: one day
    store.materialize_incremental(ago(60))
    write_part(folder, "late", [(1, ago(90), None, 0.15, 3)], created=False)
    (result,) = store.materialize_incremental(NOW)
    assert result.start == ago(60) - timedelta(days=1)
    assert rates(store) == [0.15, 0.2]
    store.close()


def test_a_zero_lookback_trades_late_rows_for_less_work(project_dir: Path) -> None:
    folder = first_load(project_dir, created=False)
    store = make_store(project_dir, created=False, materialization_lookback=timedelta(0))
    assert store.get_feature_view("stats").materialization_lookback == timedelta(0)
    store.materialize_incremental(ago(60))
    write_part(folder, "late", [(1, ago(90), None, 0.15, 3)], created=False)
    store.materialize_incremental(NOW)
    assert rates(store) == [0.1, 0.2]  # missed, as documented: and audit says so
    report = store.audit(sample=10)
    assert not report.ok and report.mismatch_count == 2  # rate and trips of driver 1
    assert {(m.entity["driver_id"], m.feature) for m in report.views[0].mismatches} == {
        (1, "rate"),
        (1, "trips"),
    }
    store.close()


def test_lookback_is_stored_with_the_definition(project_dir: Path) -> None:
    first_load(project_dir)
    make_store(project_dir, created=True, materialization_lookback=timedelta(hours=2)).close()
    fresh = FeatureStore(project_dir)  # rebuilt from the stored spec
    assert fresh.get_feature_view("stats").materialization_lookback == timedelta(hours=2)
    with pytest.raises(Exception, match="materialization_lookback"):
        FeatureView(
            "bad",
            [Entity("driver", join_keys=["driver_id"])],
            [Field("rate", Float64)],
            FileSource("x.parquet"),
            materialization_lookback=timedelta(hours=-1),
        )


def test_audit_finds_a_planted_mismatch(project_dir: Path) -> None:
    first_load(project_dir)
    store = make_store(project_dir, created=True)
    store.materialize(ago(600), NOW)
    clean = store.audit(sample=10)
    assert clean.ok and clean.mismatch_count == 0
    assert [(f.feature, f.checked, f.mismatches) for f in clean.views[0].features] == [
        ("rate", 2, 0),
        ("trips", 2, 0),
    ]
    store.online_store.write_batch(  # same event time: replaces the stored row
        "stats", OnlineRows(["rate", "trips"], ["2"], [ago(120).timestamp()], [[9.9, 2]])
    )
    report = store.audit(sample=10)
    assert not report.ok
    (bad,) = report.views[0].mismatches
    assert (bad.entity, bad.feature, bad.online, bad.offline) == (
        {"driver_id": 2},
        "rate",
        9.9,
        0.2,
    )
    data = report.to_dict()
    assert data["ok"] is False and data["mismatches"] == 1
    assert data["views"][0]["features"][0] == {
        "view": "stats",
        "feature": "rate",
        "checked": 2,
        "mismatches": 1,
    }
    store.close()


def test_audit_counts_an_entity_missing_online_and_samples(project_dir: Path) -> None:
    folder = project_dir / "data" / "stats"
    write_part(folder, "a", [(i, ago(30), ago(30), i / 10, i) for i in range(50)])
    store = make_store(project_dir, created=True)
    store.materialize(ago(600), NOW)
    store.online_store.delete_view("stats")
    store.online_store.write_batch(
        "stats", OnlineRows(["rate"], [], [], []), watermark=NOW.timestamp()
    )
    report = store.audit(sample=7, seed=3)
    assert report.views[0].sampled == 7 and report.mismatch_count == 14  # 7 entities x 2
    assert store.audit(sample=7, seed=3).views[0].mismatches == report.views[0].mismatches
    store.close()


def test_audit_cli_exit_codes_and_json(project_dir: Path) -> None:
    first_load(project_dir)
    store = make_store(project_dir, created=True)
    store.materialize(ago(600), NOW)
    store.close()
    runner = CliRunner()
    ok = runner.invoke(app, ["features", "audit", "--sample", "5"])
    assert ok.exit_code == 0, ok.output
    assert "online and offline agree" in ok.stdout and "rate" in ok.stdout
    store = FeatureStore(project_dir)
    store.online_store.write_batch(
        "stats", OnlineRows(["rate", "trips"], ["1"], [ago(180).timestamp()], [[0.1, 99]])
    )
    store.close()
    bad = runner.invoke(app, ["features", "audit", "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["mismatches"] == 1
    assert data["views"][0]["mismatches"][0]["online"] == 99
    table = runner.invoke(app, ["features", "audit"])
    assert table.exit_code == 1 and "mismatch" in table.stdout and "trips" in table.stdout
