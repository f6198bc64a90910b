"""Choosing materializers: by MRO, by name, through plugins, and without importing libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mloop.pipelines.materializers as materializers_pkg
from mloop.errors import ValidationError
from mloop.pipelines.materializers import (
    Materializer,
    materializer_by_name,
    materializer_for,
    register_materializer,
    registered_materializers,
)
from mloop.pipelines.materializers import registry as registry_module


class Animal:
    pass


class Dog(Animal):
    pass


class Puppy(Dog):
    pass


class _TextMaterializer(Materializer):
    artifact_type = "Object"

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        (folder / "v.txt").write_text(type(value).__name__)
        return {"kind": type(value).__name__}

    def load(self, folder: Path) -> Any:
        return {"Animal": Animal, "Dog": Dog, "Puppy": Puppy}[(folder / "v.txt").read_text()]()


class AnimalMaterializer(_TextMaterializer):
    name = "test.animal"
    types = (Animal,)


class DogMaterializer(_TextMaterializer):
    name = "test.dog"
    types = (f"{__name__}.Dog",)  # claimed by dotted name


def test_exports_are_exact() -> None:
    assert materializers_pkg.__all__ == sorted(materializers_pkg.__all__)
    for name in materializers_pkg.__all__:
        assert hasattr(materializers_pkg, name)


@pytest.mark.parametrize(
    "value, name",
    [
        (None, "builtins.json"),
        (True, "builtins.json"),
        (1.5, "builtins.json"),
        ({}, "builtins.json"),
        (b"x", "builtins.bytes"),
    ],
)
def test_builtin_choice(value: Any, name: str) -> None:
    assert materializer_for(value).name == name


def test_most_specific_class_wins(clean_registry: None) -> None:
    register_materializer(AnimalMaterializer)
    register_materializer(DogMaterializer)
    assert materializer_for(Animal()).name == "test.animal"
    assert materializer_for(Dog()).name == "test.dog"
    assert materializer_for(Puppy()).name == "test.dog"  # nearest ancestor in the MRO


def test_unknown_type_error_names_type_and_remedies() -> None:
    with pytest.raises(ValidationError) as info:
        materializer_for(Animal())
    message = str(info.value)
    assert f"{__name__}.Animal" in message
    assert "register_materializer" in message and "allow_pickle=True" in message


def test_unknown_type_with_pickle_allowed() -> None:
    assert materializer_for(Animal(), allow_pickle=True).name == "pickle"


def test_conflicts_need_override(clean_registry: None) -> None:
    register_materializer(AnimalMaterializer)
    register_materializer(AnimalMaterializer)  # the same class again is fine

    class Other(AnimalMaterializer):
        name = "test.other"

    with pytest.raises(ValidationError, match=r"already handled by 'test\.animal'"):
        register_materializer(Other)
    register_materializer(Other, override=True)
    assert materializer_for(Animal()).name == "test.other"
    assert materializer_by_name("test.animal").name == "test.animal"  # old artifacts still load

    class SameName(_TextMaterializer):
        name = "test.other"

    with pytest.raises(ValidationError, match=r"name 'test\.other' is taken"):
        register_materializer(SameName)


def test_override_replaces_a_builtin(clean_registry: None) -> None:
    class MyJson(_TextMaterializer):
        name = "test.myjson"
        types = (dict,)

    register_materializer(MyJson, override=True)
    assert materializer_for({"a": 1}).name == "test.myjson"
    assert materializer_for([1]).name == "builtins.json"


@pytest.mark.parametrize("bad", [object, AnimalMaterializer()])
def test_register_refuses_non_materializers(bad: Any) -> None:
    with pytest.raises(ValidationError, match="not a Materializer subclass"):
        register_materializer(bad)


def test_register_needs_a_name() -> None:
    class Nameless(_TextMaterializer):
        pass

    with pytest.raises(ValidationError, match="needs a non-empty 'name'"):
        register_materializer(Nameless)


def test_by_name_unknown_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match=r"unknown materializer 'nope'.*builtins\.json"):
        materializer_by_name("nope")


def test_by_name_loads_a_dotted_path(clean_registry: None) -> None:
    found = materializer_by_name(f"{__name__}:AnimalMaterializer")
    assert isinstance(found, AnimalMaterializer)
    assert "test.animal" in registered_materializers()


def test_entry_points_are_registered(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEntryPoint:
        name = "animals"

        def load(self) -> type[Materializer]:
            return AnimalMaterializer

    monkeypatch.setattr(
        registry_module,
        "entry_points",
        lambda group: [FakeEntryPoint()] if group == "mloop.materializers" else [],
    )
    monkeypatch.setattr(registry_module.plugins, "entry_points", registry_module.entry_points)
    monkeypatch.setitem(registry_module._STATE, "entry_points", False)
    assert materializer_for(Animal()).name == "test.animal"


def test_builtins_list() -> None:
    names = set(registered_materializers())
    assert {
        "builtins.json",
        "builtins.bytes",
        "numpy.npy",
        "numpy.scalar",
        "polars.parquet",
        "polars.lazyframe.parquet",
        "pandas.parquet",
        "pandas.series.parquet",
        "arrow.parquet",
        "pickle",
    } <= names
    assert all(isinstance(m.version, int) for m in registered_materializers().values())


def test_importing_does_not_import_data_libraries() -> None:
    code = (
        "import sys, mloop.pipelines.materializers as m; "
        "m.materializer_for({'a': 1}); m.registered_materializers(); "
        "print(sorted(k for k in ('pandas', 'polars', 'pyarrow', 'numpy') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
