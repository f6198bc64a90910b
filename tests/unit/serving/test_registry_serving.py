"""Serving registered models: the alias is followed (and rolled back) in the background, and a
package whose bytes differ from the registry's digest is refused."""

from __future__ import annotations

import asyncio

import pytest

import mloop.registry
from mloop.errors import IntegrityError
from mloop.serving.http.app import create_app
from mloop.serving.models import registry_access
from mloop.serving.models.source import load_served_model
from mloop.serving.settings import ServingConfig


@pytest.fixture
def registered(project_dir, packages):
    registry_access.reset()
    for name in ("credit", "ones", "zeros"):
        mloop.registry.register_model("credit", packages[name])
    mloop.registry.set_alias("credit", "production", 1, reason="first")
    yield
    registry_access.reset()


@pytest.mark.slow
def test_the_service_follows_the_alias_and_its_rollback(registered, kit) -> None:
    body = {"dataframe_records": [kit.row | {"income": 20.0}]}

    async def version_after(c, expected: str) -> str:
        for _ in range(200):
            resp = await c.post("/v2/models/credit/infer", json=kit.oip_body([kit.row]))
            assert resp.status_code == 200, resp.text
            if resp.json()["model_version"] == expected:
                return expected
            await asyncio.sleep(0.02)
        return resp.json()["model_version"]

    async def main():
        app = create_app(ServingConfig("models:/credit@production", poll_interval_s=0.05))
        async with kit.serving(app) as c:
            first = (await c.post("/invocations", json=body)).json()
            await asyncio.to_thread(
                mloop.registry.set_alias, "credit", "production", 2, reason="v2"
            )
            moved = await version_after(c, "2")
            second = (await c.post("/invocations", json=body)).json()
            await asyncio.to_thread(mloop.registry.rollback, "credit", "production", reason="bad")
            back = await version_after(c, "1")
            meta = (await c.get("/v2/models/credit")).json()
            return first, moved, second, back, meta

    first, moved, second, back, meta = kit.run(main())
    assert first == {"predictions": [0]} and second == {"predictions": [1]}
    assert moved == "2" and back == "1"
    assert meta["versions"] == ["1"]


def test_a_package_that_differs_from_the_registry_digest_is_refused(
    registered, project_dir
) -> None:
    version = mloop.registry.resolve("models:/credit/1")
    store = registry_access.registry().artifacts
    with store.open_local(version.uri) as folder:
        target = folder
    model_file = next(p for p in target.rglob("*") if p.is_file() and p.name != "mloop-model.json")
    backup = model_file.read_bytes()
    try:
        model_file.write_bytes(backup + b"tampered")
        with pytest.raises(IntegrityError):
            load_served_model("models:/credit/1")
    finally:
        model_file.write_bytes(backup)


def _count_resolves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``ModelRegistry.resolve`` call (the registry's URI -> version lookup)."""
    from mloop.registry import ModelRegistry

    seen: list[str] = []
    original = ModelRegistry.resolve

    def counted(self, uri):
        seen.append(uri)
        return original(self, uri)

    monkeypatch.setattr(ModelRegistry, "resolve", counted)
    return seen


def test_serving_resolves_an_alias_once_and_checks_its_digest(
    registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14.1: the service pins the alias once; the load does not resolve it again."""
    from dataclasses import replace

    seen = _count_resolves(monkeypatch)
    model = load_served_model("models:/credit@production")
    assert seen == ["models:/credit@production"]
    assert (model.name, model.version) == ("credit", "1")
    recorded = mloop.registry.get_model_version("credit", 1)
    assert model.digest == recorded.digest
    with pytest.raises(IntegrityError):  # the version's recorded digest is what is checked
        load_served_model(
            "models:/credit@production", resolve=lambda uri: replace(recorded, digest="0" * 64)
        )


def test_batch_prediction_resolves_the_uri_once(
    registered, kit, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mloop.serving.batch.local import predict_file

    frame, _ = kit.training_frame(n=10, seed=1)
    frame.to_parquet(tmp_path / "in.parquet")
    seen = _count_resolves(monkeypatch)
    result = predict_file(
        "models:/credit@production", tmp_path / "in.parquet", tmp_path / "out.parquet"
    )
    assert result.rows == 10 and result.version == "1"
    assert seen == ["models:/credit@production"]


def test_the_kept_registry_follows_the_project_and_drops_a_closed_store(
    project_dir, tmp_path_factory, monkeypatch
) -> None:
    """A process that moves between projects resolved models in the first project's store,
    and after that store was closed answered 503 forever (a CI failure: two tests on one
    worker). Without any reset, the kept registry is rebuilt when it is stale."""
    registry_access.reset()
    first = registry_access.registry()
    assert registry_access.registry() is first  # kept while nothing changed
    other = tmp_path_factory.mktemp("another-project")
    monkeypatch.chdir(other)
    moved = registry_access.registry()
    assert moved is not first and str(other) in repr(moved.store)
    monkeypatch.setenv("MLOOP_METADATA_URL", f"sqlite:///{other / 'elsewhere.db'}")
    named = registry_access.registry()
    assert named is not moved and "elsewhere.db" in repr(named.store)
    monkeypatch.delenv("MLOOP_METADATA_URL")
    monkeypatch.chdir(project_dir)
    back = registry_access.registry()
    back.store.close()
    reopened = registry_access.registry()
    assert reopened is not back and not reopened.store.closed
    assert reopened.search_models() == []  # reads through the reopened store
    registry_access.reset()


def test_a_removed_working_directory_keeps_the_registry(
    project_dir, tmp_path_factory, monkeypatch
) -> None:
    """A long-lived service whose working directory is deleted keeps following its alias
    (os.getcwd() raises FileNotFoundError there)."""
    doomed = tmp_path_factory.mktemp("doomed")
    monkeypatch.chdir(doomed)
    registry_access.reset()
    kept = registry_access.registry()
    import shutil

    shutil.rmtree(doomed)
    assert registry_access.registry() is kept
    monkeypatch.chdir(project_dir)
    registry_access.reset()
