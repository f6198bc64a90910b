"""Entity-keyed requests: the missing model inputs come from the online feature store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import mloop.models
from mloop.serving.http.app import create_app
from mloop.serving.settings import ServingConfig


@pytest.fixture
def feature_repo(project_dir, kit):
    from mloop.features import (
        Bool,
        Entity,
        FeatureStore,
        FeatureView,
        Field,
        FileSource,
        Float64,
        String,
    )

    frame, _ = kit.training_frame(n=6, seed=5)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    table = frame.drop(columns=["age"]).assign(
        customer_id=range(1, 7), event_time=[now - timedelta(minutes=5)] * 6
    )
    (project_dir / "data").mkdir()
    table.to_parquet(project_dir / "data" / "customers.parquet")
    customer = Entity("customer", join_keys=["customer_id"])
    view = FeatureView(
        name="customers",
        entities=[customer],
        schema=[Field("income", Float64), Field("city", String), Field("member", Bool)],
        source=FileSource("data/customers.parquet", timestamp_field="event_time"),
        ttl=timedelta(days=1),
    )
    store = FeatureStore(repo_path=project_dir)
    store.apply([customer, view])
    store.materialize(now - timedelta(hours=1), now)
    return frame


@pytest.mark.slow
def test_a_request_with_entity_keys_gets_its_features_from_the_online_store(
    feature_repo, packages, kit, project_dir
) -> None:
    config = ServingConfig(
        str(packages["credit"]),
        poll_interval_s=0,
        features="customers:income,customers:city,customers:member",
        entity_keys=("customer_id",),
        feature_repo=project_dir,
    )

    async def main():
        async with kit.serving(create_app(config)) as c:
            keyed = await c.post(
                "/invocations",
                json={"dataframe_records": [{"customer_id": i, "age": 40} for i in range(1, 7)]},
            )
            oip = await c.post(
                "/v2/models/credit/infer",
                json={
                    "inputs": [
                        {"name": "customer_id", "shape": [1], "datatype": "INT64", "data": [3]},
                        {"name": "age", "shape": [1], "datatype": "INT64", "data": [40]},
                    ]
                },
            )
            unknown = await c.post(
                "/invocations", json={"dataframe_records": [{"customer_id": 99, "age": 40}]}
            )
            return keyed, oip, unknown

    keyed, oip, unknown = kit.run(main())
    full = feature_repo.assign(age=40)[["age", "income", "city", "member"]]
    expected = mloop.models.load_model(packages["credit"]).predict(pd.DataFrame(full))
    assert keyed.status_code == 200, keyed.text
    assert keyed.json()["predictions"] == list(expected)
    assert oip.json()["outputs"][0]["data"] == [expected[2]]
    assert unknown.status_code == 422 and "customer_id" in unknown.json()["message"]
