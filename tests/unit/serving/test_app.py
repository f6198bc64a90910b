"""The service end to end, in-process (httpx over ASGI): protocols, errors, tokens, traffic,
reload, logs and metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from mloop.serving.http.app import create_app
from mloop.serving.settings import ServingConfig


def config(packages: dict[str, Path], **kw) -> ServingConfig:
    return ServingConfig(model_uri=str(packages["credit"]), poll_interval_s=0, **kw)


def test_oip_inference_metadata_and_health(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            assert (await c.get("/v2/health/live")).json() == {"live": True}
            assert (await c.get("/v2/health/ready")).json() == {"ready": True}
            meta = (await c.get("/v2/models/credit")).json()
            body = kit.oip_body([kit.row, kit.row | {"income": 20.0}], id="req-1")
            body["outputs"] = [{"name": "predict"}, {"name": "predict_proba"}]
            resp = await c.post("/v2/models/credit/infer", json=body)
            return meta, resp

    meta, resp = kit.run(main())
    assert [i["name"] for i in meta["inputs"]] == ["age", "income", "city", "member"]
    assert [i["datatype"] for i in meta["inputs"]] == ["INT64", "FP64", "BYTES", "BOOL"]
    assert meta["outputs"][0] == {"name": "predict", "datatype": "INT64", "shape": [-1]}
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["id"] == "req-1" and doc["model_name"] == "credit"
    pred, proba = doc["outputs"]
    assert pred["data"] == [1, 0] and proba["shape"] == [2, 2]
    assert resp.headers["x-request-id"] == "req-1"


def test_mlflow_scoring_and_ping_version(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            records = await c.post("/invocations", json={"dataframe_records": [kit.row]})
            csv = await c.post(
                "/invocations",
                content=b"age,income,city,member\n30,20.0,lyon,False\n",
                headers={"content-type": "text/csv"},
            )
            return records, csv, await c.get("/ping"), await c.get("/version")

    records, csv, ping, version = kit.run(main())
    assert records.json() == {"predictions": [1]}
    assert csv.json() == {"predictions": [0]}
    assert ping.status_code == 200 and version.text


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code", "words"),
    [
        (
            "/invocations",
            {"content": b"{oops", "headers": {"content-type": "application/json"}},
            400,
            "bad_request",
            "not valid JSON",
        ),
        (
            "/invocations",
            {"json": {"dataframe_records": [{"age": 1}]}},
            422,
            "invalid_input",
            "'income'",
        ),
        (
            "/invocations",
            {
                "json": {
                    "dataframe_records": [
                        {"age": "old", "income": 1.0, "city": "x", "member": True}
                    ]
                }
            },
            422,
            "invalid_input",
            "'age'",
        ),
        (
            "/v2/models/credit/infer",
            {
                "json": {
                    "inputs": [{"name": "income", "shape": [1], "datatype": "BYTES", "data": ["x"]}]
                }
            },
            422,
            "invalid_input",
            "'income'",
        ),
        ("/v2/models/other/infer", {"json": {"inputs": []}}, 404, "not_found", "'other'"),
        (
            "/invocations",
            {"content": b"x" * 5000, "headers": {"content-type": "application/json"}},
            413,
            "payload_too_large",
            "4096",
        ),
        ("/nowhere", {}, 404, "not_found", "/nowhere"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(
    packages, kit, path, kwargs, status, code, words
) -> None:
    async def main():
        async with kit.serving(create_app(config(packages, max_body_bytes=4096))) as c:
            bad = await c.post(path, **kwargs)
            good = await c.post("/invocations", json={"dataframe_records": [kit.row]})
            return bad, good

    bad, good = kit.run(main())
    assert bad.status_code == status, bad.text
    assert bad.json()["error_code"] == code and words in bad.json()["message"]
    assert good.status_code == 200  # the service keeps serving


def test_unknown_category_the_model_cannot_handle_is_a_422_not_a_500(tmp_path, kit) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import mloop.models

    frame, labels = kit.training_frame()
    strict = Pipeline(
        [
            ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="error"), ["city"])])),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, labels)
    mloop.models.save_model(strict, tmp_path / "strict", input_example=frame.head(4))

    async def main():
        app = create_app(ServingConfig(model_uri=str(tmp_path / "strict"), poll_interval_s=0))
        async with kit.serving(app) as c:
            return await c.post(
                "/invocations", json={"dataframe_records": [kit.row | {"city": "rome"}]}
            )

    resp = kit.run(main())
    assert resp.status_code == 422 and "refused" in resp.json()["message"]


def test_tokens_guard_inference_and_admin(packages, kit) -> None:
    async def main():
        app = create_app(config(packages, token="s3cret", admin_token="adm"))
        async with kit.serving(app) as c:
            body = {"dataframe_records": [kit.row]}
            none = await c.post("/invocations", json=body)
            wrong = await c.post("/invocations", json=body, headers={"authorization": "Bearer x"})
            right = await c.post(
                "/invocations", json=body, headers={"authorization": "Bearer s3cret"}
            )
            admin_with_user_token = await c.post(
                "/admin/reload", headers={"authorization": "Bearer s3cret"}
            )
            admin_ok = await c.get("/admin/traffic", headers={"authorization": "Bearer adm"})
            return none, wrong, right, admin_with_user_token, admin_ok

    none, wrong, right, admin_bad, admin_ok = kit.run(main())
    assert none.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200
    assert admin_bad.status_code == 403 and admin_bad.json()["error_code"] == "forbidden"
    assert admin_ok.status_code == 200 and admin_ok.json()["champion"]["ready"] is True


def test_admin_api_is_closed_without_an_admin_token(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            return await c.post("/admin/reload", json={})

    resp = kit.run(main())
    assert resp.status_code == 403 and "closed" in resp.json()["message"]


def test_not_ready_is_503_and_a_broken_model_never_gets_ready(tmp_path, kit) -> None:
    async def main():
        app = create_app(ServingConfig(model_uri=str(tmp_path / "missing"), poll_interval_s=0))
        async with kit.serving(app, wait_ready=False) as c:
            await asyncio.sleep(0.2)
            return (
                await c.get("/v2/health/ready"),
                await c.post("/invocations", json={"dataframe_records": [kit.row]}),
                await c.get("/ping"),
            )

    ready, infer, ping = kit.run(main())
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert infer.status_code == 503 and infer.json()["error_code"] == "not_ready"
    assert ping.status_code == 503


def test_reload_swaps_the_model_and_traffic_routes_canary_and_shadow(
    packages, kit, tmp_path
) -> None:
    auth = {"authorization": "Bearer adm"}

    async def main():
        app = create_app(config(packages, admin_token="adm", log_dir=tmp_path))
        service = app.state.service
        async with kit.serving(app) as c:
            body = {"dataframe_records": [kit.row | {"income": 20.0}]}
            before = (await c.post("/invocations", json=body)).json()
            swap = await c.post("/admin/reload", json={"uri": str(packages["ones"])}, headers=auth)
            after = (await c.post("/invocations", json=body)).json()
            traffic = await c.put(
                "/admin/traffic",
                json={
                    "canary": {"uri": str(packages["zeros"]), "percent": 100},
                    "shadow": {"uri": str(packages["credit"])},
                },
                headers=auth,
            )
            canary = (await c.post("/invocations", json=body)).json()
            service.router._rng = lambda: 0.999  # the next draw falls outside the canary's share
            await c.put(
                "/admin/traffic",
                json={
                    "canary": {"uri": str(packages["zeros"]), "percent": 50},
                    "shadow": {"uri": str(packages["credit"])},
                },
                headers=auth,
            )
            champion = (await c.post("/invocations", json=body)).json()
            bad = await c.put(
                "/admin/traffic", json={"canary": {"uri": "x", "percent": 150}}, headers=auth
            )
            await asyncio.sleep(0.05)
            metrics = (await c.get("/metrics")).text
            return before, swap, after, traffic, canary, champion, bad, metrics

    before, swap, after, traffic, canary, champion, bad, metrics = kit.run(main())
    assert before == {"predictions": [0]}
    assert swap.status_code == 200 and swap.json()["model"] == "ones"
    assert after == {"predictions": [1]}
    assert traffic.status_code == 200 and traffic.json()["canary"]["percent"] == 100
    assert canary == {"predictions": [0]}  # the canary (zeros) answered
    assert champion == {"predictions": [1]}  # the champion (ones) answered
    assert bad.status_code == 422 and "canary.percent" in bad.json()["message"]
    assert 'route="shadow"' in metrics and 'route="canary"' in metrics
    assert "mloop_model_info{digest=" in metrics
    table = ds.dataset(tmp_path / "predictions", format="parquet").to_table().to_pandas()
    routes = table.groupby("route")["model"].unique().to_dict()
    assert set(routes["canary"]) == {"zeros"} and set(routes["shadow"]) == {"credit"}
    assert set(routes["champion"]) == {"credit", "ones"}


def test_traffic_changes_are_partial_updates(packages, kit, tmp_path) -> None:
    """Setting a shadow keeps the canary set earlier (issue 17.4); null removes one role;
    a canary whose URI is unchanged keeps its loaded model when only its share changes."""
    auth = {"authorization": "Bearer adm"}
    canary = {"uri": str(packages["zeros"]), "percent": 30}

    async def main():
        app = create_app(config(packages, admin_token="adm", log_dir=tmp_path))
        service = app.state.service
        async with kit.serving(app) as c:
            states = [(await c.put("/admin/traffic", json={"canary": canary}, headers=auth))]
            held = service.router.state.canary
            shadow = {"shadow": {"uri": str(packages["credit"])}}
            states.append(await c.put("/admin/traffic", json=shadow, headers=auth))
            share = {"canary": {**canary, "percent": 60}}
            states.append(await c.put("/admin/traffic", json=share, headers=auth))
            same_holder = service.router.state.canary is held
            states.append(await c.put("/admin/traffic", json={"canary": None}, headers=auth))
            states.append(await c.put("/admin/traffic", json={}, headers=auth))
            states.append(await c.get("/admin/traffic", headers=auth))
            return [r.json() for r in states], same_holder

    (first, with_shadow, reshare, no_canary, unchanged, shown), same_holder = kit.run(main())
    assert first["canary"]["percent"] == 30 and first["shadow"] is None
    assert with_shadow["canary"]["percent"] == 30 and with_shadow["canary"]["uri"] == canary["uri"]
    assert with_shadow["shadow"]["uri"] == str(packages["credit"])
    assert reshare["canary"]["percent"] == 60 and reshare["shadow"] is not None and same_holder
    assert no_canary["canary"] is None and no_canary["shadow"]["uri"] == str(packages["credit"])
    unchanged.pop("applied"), no_canary.pop("applied")  # what a change adds to the state shown
    assert unchanged == no_canary == shown


def test_prediction_log_and_feedback_are_written_on_shutdown(packages, kit, tmp_path) -> None:
    async def main():
        app = create_app(config(packages, log_dir=tmp_path, log_flush_interval_s=60))
        async with kit.serving(app) as c:
            ids = []
            for i in range(5):
                body = kit.oip_body([kit.row, kit.row | {"age": 40 + i}], id=f"r{i}")
                ids.append((await c.post("/v2/models/credit/infer", json=body)).json()["id"])
            fb = await c.post(
                "/feedback",
                json=[{"request_id": "r0", "labels": [1, 0]}, {"request_id": "r1", "label": "yes"}],
            )
            bad_fb = await c.post("/feedback", json={"request_id": "r0"})
            assert not list(tmp_path.rglob("*.parquet"))  # nothing flushed yet: off the hot path
        return ids, fb, bad_fb

    ids, fb, bad_fb = kit.run(main())
    assert fb.json() == {"recorded": 3}
    assert bad_fb.status_code == 422 and "label" in bad_fb.json()["message"]
    preds = ds.dataset(tmp_path / "predictions", format="parquet").to_table().to_pandas()
    assert sorted(preds["request_id"].unique()) == ids and len(preds) == 10
    assert {"age", "income", "city", "member", "prediction", "latency_ms", "version"} <= set(
        preds.columns
    )
    assert sorted(preds.loc[preds.request_id == "r3", "age"]) == [30, 43]
    folder = next((tmp_path / "predictions" / "credit").glob("date=*/hour=*"))
    assert folder.is_dir()
    feedback = ds.dataset(tmp_path / "feedback", format="parquet").to_table().to_pandas()
    assert sorted(feedback["request_id"]) == ["r0", "r0", "r1"]


def test_openapi_describes_the_model_inputs(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            return (await c.get("/openapi.json")).json(), await c.get("/docs")

    doc, docs = kit.run(main())
    variants = doc["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["inputs"]["items"]["oneOf"]
    assert [v["properties"]["name"]["enum"][0] for v in variants] == [
        "age",
        "income",
        "city",
        "member",
    ]
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_startup_can_wait_for_the_model_so_no_request_sees_503(packages, kit) -> None:
    """Several workers share a port: each holds its startup until its model is loaded."""

    async def main():
        app = create_app(config(packages, wait_until_ready_s=30))
        async with kit.serving(app, wait_ready=False) as c:  # no polling: startup waited
            return await c.get("/v2/health/ready"), await c.post(
                "/invocations", json={"dataframe_records": [kit.row]}
            )

    ready, infer = kit.run(main())
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert infer.status_code == 200


def test_startup_wait_gives_up_on_a_model_that_never_loads(tmp_path, kit) -> None:
    async def main():
        cfg = ServingConfig(
            model_uri=str(tmp_path / "missing"), poll_interval_s=0, wait_until_ready_s=0.3
        )
        async with kit.serving(create_app(cfg), wait_ready=False) as c:
            return await c.get("/v2/health/ready")

    assert kit.run(main()).status_code == 503


def test_live_and_ready_tell_the_truth_while_loading_and_after_a_failed_load(kit) -> None:
    """Live while the model loads (ready not yet); once the first load failed, neither: the
    service reports why and asks its runner to stop (``on_fatal``)."""
    import threading

    from mloop.errors import ModelLoadError

    release = threading.Event()

    def loader(uri: str):
        release.wait(10)
        raise ModuleNotFoundError("No module named 'gone'")

    async def main():
        app = create_app(
            ServingConfig(model_uri="/models/credit", poll_interval_s=0), loader=loader
        )
        stopped: list[ModelLoadError] = []
        app.state.service.on_fatal = stopped.append
        async with kit.serving(app, wait_ready=False) as c:
            loading = (await c.get("/v2/health/live"), await c.get("/v2/health/ready"))
            release.set()
            for _ in range(250):
                if stopped:
                    break
                await asyncio.sleep(0.02)
            failed = (await c.get("/v2/health/live"), await c.get("/v2/health/ready"))
        return loading, failed, stopped

    (live, ready), (dead, unready), stopped = kit.run(main())
    assert live.status_code == 200 and live.json() == {"live": True}
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert len(stopped) == 1 and "cannot serve /models/credit" in str(stopped[0])
    assert "ModuleNotFoundError: No module named 'gone'" in str(stopped[0])
    assert dead.status_code == 503 and dead.json()["live"] is False
    assert "No module named 'gone'" in dead.json()["message"]
    assert unready.status_code == 503 and "No module named 'gone'" in unready.json()["message"]
