"""Issue 18: admission control, row-budget batching, metadata behind the token, auth statuses,
``Allow`` on 405 and the content types the OpenAPI document gives plain-text routes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from mloop.serving.batching import MicroBatcher
from mloop.serving.http.app import create_app
from mloop.serving.settings import ServingConfig


def config(packages: dict[str, Path], **kw) -> ServingConfig:
    return ServingConfig(model_uri=str(packages["credit"]), poll_interval_s=0, **kw)


def test_beyond_max_queue_requests_get_503_with_retry_after(packages, kit) -> None:
    """10 requests at once into a worker bounded to 3: 3 are answered, 7 are refused at once
    with 503 ``overloaded`` and ``Retry-After`` (issue 18.6)."""
    body = kit.oip_body([kit.row])

    async def main():
        app = create_app(config(packages, max_queue=3, max_wait_ms=20.0))
        async with kit.serving(app) as c:
            return await asyncio.gather(
                *(c.post("/v2/models/credit/infer", json=body) for _ in range(10))
            )

    answers = kit.run(main())
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 3 + [503] * 7, codes
    refused = [r for r in answers if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r in refused)
    assert {r.json()["error_code"] for r in refused} == {"overloaded"}


def test_unbounded_by_default(packages, kit) -> None:
    body = kit.oip_body([kit.row])

    async def main():
        async with kit.serving(create_app(config(packages, max_wait_ms=20.0))) as c:
            return await asyncio.gather(
                *(c.post("/v2/models/credit/infer", json=body) for _ in range(10))
            )

    assert {r.status_code for r in kit.run(main())} == {200}


def test_64_row_requests_are_batched_by_default(packages, kit) -> None:
    """With the default row budget, eight 64-row requests arriving together make one model
    call (before: every request of 64 rows or more was predicted alone) (issue 18.5)."""
    calls: list[int] = []

    def predict(columns, want_proba):
        rows = len(next(iter(columns.values())))
        calls.append(rows)
        return np.zeros(rows), None

    async def main():
        batcher = MicroBatcher(predict, max_batch_rows=ServingConfig("x").max_batch_size)
        cols = {"a": np.arange(64.0)}
        return await asyncio.gather(*(batcher.submit(cols, 64) for _ in range(8)))

    results = asyncio.run(main())
    assert calls == [512] and all(r.batch_rows == 512 for r in results)
    assert all(len(r.predictions) == 64 for r in results)


def test_metadata_needs_the_token_unless_made_public(packages, kit) -> None:
    """With an inference token, /metrics, /openapi.json and model metadata need it too;
    --public-metadata opens them again; probes stay open (issue 18.8)."""
    auth = {"authorization": "Bearer tok"}
    closed = ("/metrics", "/openapi.json", "/v2/models/credit", "/v2/models/credit/ready")

    async def main(public: bool):
        app = create_app(config(packages, token="tok", public_metadata=public))
        async with kit.serving(app) as c:
            bare = {p: (await c.get(p)).status_code for p in closed}
            given = {p: (await c.get(p, headers=auth)).status_code for p in closed}
            probes = {p: (await c.get(p)).status_code for p in ("/v2/health/ready", "/ping")}
            unauth = await c.get("/metrics")
            return bare, given, probes, unauth

    bare, given, probes, unauth = kit.run(main(False))
    assert set(bare.values()) == {401} and set(given.values()) == {200}
    assert set(probes.values()) == {200}
    assert unauth.headers["www-authenticate"] == "Bearer"
    bare, _, _, _ = kit.run(main(True))
    assert set(bare.values()) == {200}


def test_missing_admin_token_is_401_wrong_is_403_and_405_says_allow(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages, admin_token="adm"))) as c:
            missing = await c.get("/admin/traffic")
            wrong = await c.get("/admin/traffic", headers={"authorization": "Bearer no"})
            right = await c.get("/admin/traffic", headers={"authorization": "Bearer adm"})
            not_allowed = await c.get("/invocations")
            delete = await c.delete("/admin/traffic", headers={"authorization": "Bearer adm"})
            return missing, wrong, right, not_allowed, delete

    missing, wrong, right, not_allowed, delete = kit.run(main())
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 403 and wrong.json()["error_code"] == "forbidden"
    assert right.status_code == 200
    assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "POST"
    assert not_allowed.json()["error_code"] == "method_not_allowed"
    assert delete.status_code == 405 and set(delete.headers["allow"].split(", ")) >= {
        "GET",
        "PUT",
    }


def test_admin_closed_without_admin_token_is_403(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            return await c.get("/admin/traffic", headers={"authorization": "Bearer x"})

    assert kit.run(main()).status_code == 403


def test_openapi_gives_plain_text_routes_their_content_type(packages, kit) -> None:
    async def main():
        async with kit.serving(create_app(config(packages))) as c:
            return (await c.get("/openapi.json")).json(), await c.get("/metrics")

    doc, metrics = kit.run(main())
    for path in ("/metrics", "/ping", "/health", "/version"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["text/plain"], (path, content)
    assert metrics.headers["content-type"].startswith("text/plain")
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["200"]["content"]
    assert list(infer) == ["application/json"]
