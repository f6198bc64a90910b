"""A service started with an announce URL reports itself, its split and each admin change (with
who and why) to its project's metadata store, and marks itself stopped at shutdown."""

from __future__ import annotations

import asyncio

import pytest

import mloop.registry
from mloop.serving.http.app import create_app
from mloop.serving.models import registry_access
from mloop.serving.settings import ServingConfig

ADMIN = {"authorization": "Bearer adm"}


@pytest.fixture
def registered(project_dir, packages):
    registry_access.reset()
    for name in ("credit", "ones"):
        mloop.registry.register_model("credit", packages[name])
    mloop.registry.set_alias("credit", "production", 1, reason="first")
    yield
    registry_access.reset()


def _services():
    from mloop.config import load_settings
    from mloop.metadata import connect

    return connect(load_settings().metadata_url).services()


async def _registered(services, timeout_s: float = 10.0):
    for _ in range(int(timeout_s / 0.02)):
        found = await asyncio.to_thread(services.running)
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("the service did not register")


def test_the_service_reports_its_split_and_each_change(registered, kit) -> None:
    services = _services()

    async def main():
        config = ServingConfig(
            "models:/credit@production", admin_token="adm", url="http://svc.example:8080"
        )
        app = create_app(config)
        async with kit.serving(app) as c:
            (first,) = await _registered(services)
            resp = await c.put(
                "/admin/traffic",
                json={"canary": {"uri": "models:/credit/2", "percent": 25}, "reason": "try v2"},
                headers={**ADMIN, "x-mloop-actor": "bob"},
            )
            assert resp.status_code == 200, resp.text
            (after,) = await asyncio.to_thread(services.running)
            bad = await c.put("/admin/traffic", json={"reason": 3}, headers=ADMIN)
        return first, after, bad, await asyncio.to_thread(services.running)

    first, after, bad, at_exit = kit.run(main())
    assert first.url == "http://svc.example:8080" and first.environment == "dev"
    assert first.model == "credit" and first.traffic.champion_version == "1"
    assert first.traffic.follows == "models:/credit@production" and first.healthy
    assert after.traffic.canary_uri == "models:/credit/2" and after.traffic.canary_percent == 25
    assert after.traffic.canary_version == "2"
    assert bad.status_code == 422 and "reason" in bad.text
    changes = services.changes()
    assert [(c.kind, c.actor, c.reason) for c in changes] == [
        ("traffic", "bob", "try v2"),
        ("start", "mloop serve", None),
    ]
    assert at_exit == []  # stopped cleanly: no longer listed as running


def test_a_service_without_an_announce_url_reports_nothing(registered, kit) -> None:
    services = _services()

    async def main():
        async with kit.serving(create_app(ServingConfig("models:/credit@production"))):
            await asyncio.sleep(0.2)
            return await asyncio.to_thread(services.running)

    assert kit.run(main()) == [] and services.changes() == []
