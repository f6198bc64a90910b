"""Definitions validate themselves and survive a round trip through their stored spec."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mloop.errors import FeatureDefinitionError
from mloop.features import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Float64,
    Int64,
    OnDemandFeatureView,
    RequestSource,
    SqlSource,
    String,
    on_demand_feature_view,
)
from mloop.features.definitions import parse_reference, spec_digest


def view(**overrides) -> FeatureView:
    args = dict(
        name="stats",
        entities=[Entity("driver", join_keys=["driver_id"])],
        schema=[Field("driver_id", Int64), Field("rate", Float64), Field("city", String)],
        source=FileSource("s.parquet", timestamp_field="ts", created_timestamp_column="created"),
        ttl=timedelta(days=1),
        tags={"team": "risk"},
        owner="ml@example.com",
    )
    args.update(overrides)
    return FeatureView(**args)


def test_join_key_fields_are_not_features_and_timestamps_come_from_the_source() -> None:
    v = view()
    assert v.feature_names == ["rate", "city"]
    assert v.join_keys == ("driver_id",)
    assert (v.timestamp_field, v.created_timestamp_field) == ("ts", "created")


def test_entity_defaults_its_join_key_to_its_name() -> None:
    assert Entity("origin", value_type=String).join_keys == ("origin",)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "1bad"}, "not valid"),
        ({"entities": []}, "entities"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"schema": [Field("rate", Float64), Field("rate", Int64)]}, "duplicate"),
        ({"schema": [Field("driver_id", Int64)]}, "no feature"),
        ({"schema": [Field("ts", Float64)]}, "timestamp column"),
        ({"source": "s.parquet"}, "FileSource"),
    ],
)
def test_bad_views_are_refused_with_the_reason(overrides: dict, message: str) -> None:
    with pytest.raises(FeatureDefinitionError, match=message):
        view(**overrides)


def test_bad_dtypes_and_sources_are_refused() -> None:
    with pytest.raises(FeatureDefinitionError, match="dtype"):
        Field("x", "decimal")
    with pytest.raises(FeatureDefinitionError, match="exactly one"):
        SqlSource("sqlite://", table="t", query="select 1")
    with pytest.raises(FeatureDefinitionError, match="file_format"):
        FileSource("x.txt", file_format="json")  # type: ignore[arg-type]


def test_view_spec_round_trip_keeps_the_digest() -> None:
    v = view()
    again = FeatureView.from_spec(v.to_spec(), {"driver": v.entities[0]})
    assert again == v
    assert spec_digest(again.to_spec()) == spec_digest(v.to_spec())
    assert spec_digest(view(ttl=timedelta(days=2)).to_spec()) != spec_digest(v.to_spec())


def test_sql_and_csv_sources_round_trip() -> None:
    for source in (SqlSource("sqlite:///x.db", table="t"), FileSource("a.csv")):
        v = view(source=source)
        assert FeatureView.from_spec(v.to_spec(), {"driver": v.entities[0]}).source == source
    assert FileSource("a.csv").format == "csv"
    assert FileSource("folder").format == "parquet"


def test_projection_and_service_references() -> None:
    v = view()
    service = FeatureService("model_v1", [v[["rate"]]])
    assert service.feature_refs() == ["stats:rate"]
    assert FeatureService("all", [v]).feature_refs() == ["stats:rate", "stats:city"]
    assert FeatureService.from_spec(service.to_spec()).feature_refs() == ["stats:rate"]
    with pytest.raises(FeatureDefinitionError, match="no feature"):
        v[["nope"]]


def double_rate(frame):
    return frame.with_columns(double=frame["rate"] * 2 + frame["bonus"])


def test_on_demand_view_stores_an_importable_function() -> None:
    v = view()
    odfv = OnDemandFeatureView(
        "derived",
        [v[["rate"]], RequestSource("req", [Field("bonus", Float64)])],
        [Field("double", Float64)],
        udf=double_rate,
    )
    assert odfv.source_features() == ["stats:rate"]
    assert [f.name for f in odfv.request_fields] == ["bonus"]
    rebuilt = OnDemandFeatureView.from_spec(odfv.to_spec())
    assert rebuilt.udf is double_rate
    assert rebuilt.to_spec() == odfv.to_spec()


def test_on_demand_decorator_and_output_check() -> None:
    import polars as pl

    @on_demand_feature_view(sources=[view()], schema=[Field("out", Float64)])
    def broken(frame):
        return frame  # lacks "out"

    assert broken.name == "broken"
    with pytest.raises(FeatureDefinitionError, match="out"):
        broken.transform(pl.DataFrame({"rate": [1.0]}))


@pytest.mark.parametrize("ref", ["rate", ":rate", "stats:", 3])
def test_references_must_be_view_colon_feature(ref) -> None:
    with pytest.raises(FeatureDefinitionError, match="view:feature"):
        parse_reference(ref)
