"""The one backend table (issue 14.2): every built-in of every kind loads, is a subclass of its
kind's interface, and is the table the lookups of flavors, materializers and feature stores read;
unknown names list the known ones, entry points included."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from mloop import plugins
from mloop.errors import BackendNotFoundError

INTERFACES = {
    "metadata_stores": "mloop.metadata.base:MetadataStore",
    "artifact_stores": "mloop.artifacts.base:ArtifactStore",
    "runners": "mloop.pipelines.runners.base:Runner",
    "online_stores": "mloop.features.online_stores.base:OnlineStore",
    "offline_stores": "mloop.features.offline_stores.base:OfflineStore",
    "model_flavors": "mloop.models.flavors.base:Flavor",
    "materializers": "mloop.pipelines.materializers.base:Materializer",
}


@pytest.mark.parametrize(
    ("kind", "name"), [(k, n) for k, names in plugins.BUILTINS.items() for n in names]
)
def test_every_builtin_loads_as_its_kinds_interface(kind: str, name: str) -> None:
    cls = plugins.load(kind, name)
    assert issubclass(cls, plugins._import_path(INTERFACES[kind]))
    if kind in {"online_stores", "offline_stores", "model_flavors", "materializers"}:
        assert cls.name == name  # the name a config or a manifest records


def test_every_kind_is_known() -> None:
    assert set(plugins.BUILTINS) == set(INTERFACES)


def test_lookups_read_the_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from mloop.models.flavors import builtin_flavor_names
    from mloop.pipelines.materializers import registry

    assert builtin_flavor_names() == list(plugins.BUILTINS["model_flavors"])
    assert [c.name for c in registry._builtin_classes()] == list(plugins.BUILTINS["materializers"])
    monkeypatch.setitem(plugins.BUILTINS, "model_flavors", {"sklearn": "x:y"})
    assert builtin_flavor_names() == ["sklearn"]


def test_unknown_names_list_builtins_and_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    third_party = EntryPoint("parquet_lake", "lake.store:LakeOfflineStore", "mloop.offline_stores")

    def fake_entry_points(*, group: str) -> list[Any]:
        return [third_party] if group == "mloop.offline_stores" else []

    monkeypatch.setattr(plugins, "entry_points", fake_entry_points)
    assert plugins.known_names("offline_stores") == ["duckdb", "parquet_lake"]
    with pytest.raises(BackendNotFoundError, match=r"\['duckdb', 'parquet_lake'\]") as info:
        plugins.load("offline_stores", "spark")
    assert info.value.kind == "offline_stores"


def test_builtins_is_a_copy() -> None:
    table = plugins.builtins("runners")
    table["mine"] = "x:y"
    assert "mine" not in plugins.BUILTINS["runners"]
