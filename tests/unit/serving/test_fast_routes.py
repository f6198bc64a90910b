"""Inference routes answered ahead of Starlette's middleware behave as the routes do."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mloop.serving.http.fast_routes import FastRoute, ServingApp


def test_route_patterns_take_one_path_segment_per_parameter() -> None:
    route = FastRoute("/v2/models/{name}/versions/{version}/infer", None)  # type: ignore[arg-type]
    assert route.match("/v2/models/credit/versions/3/infer") == {"name": "credit", "version": "3"}
    assert route.match("/v2/models/a/b/versions/3/infer") is None
    assert route.match("/v2/models/credit/versions/3/infer/x") is None


def _app() -> ServingApp:
    async def fast(request):
        if request.path_params["name"] == "boom":
            raise RuntimeError("secret detail")
        return PlainTextResponse(f"fast {request.path_params['name']}")

    async def slow(request):
        return PlainTextResponse("starlette")

    return ServingApp(
        routes=[Route("/v2/models/{name}/infer", slow, methods=["POST"])],
        fast_routes=[FastRoute("/v2/models/{name}/infer", fast)],
    )


def test_posts_go_to_the_fast_route_and_everything_else_to_starlette(kit) -> None:
    import httpx

    async def main():
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (
                await c.post("/v2/models/credit/infer"),
                await c.get("/v2/models/credit/infer"),
                await c.post("/v2/models/boom/infer"),
                await c.post("/nowhere"),
            )

    fast, get, bug, missing = kit.run(main())
    assert fast.text == "fast credit"
    assert get.status_code == 405  # Starlette's answer for the wrong method
    assert bug.status_code == 500 and bug.json()["error_code"] == "internal"
    assert "secret detail" not in bug.text  # internals are not leaked
    assert missing.status_code == 404


@pytest.mark.parametrize("root", ["", "/api"])
def test_root_path_is_stripped_before_matching(kit, root) -> None:
    import httpx

    async def main():
        transport = httpx.ASGITransport(app=_app(), root_path=root)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post(f"{root}/v2/models/credit/infer")

    assert kit.run(main()).text == "fast credit"
