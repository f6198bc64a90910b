"""``models:/`` URIs are resolved once, by the registry, and the recorded digest is checked
(issue 14.1): ``mloop.load_model`` is the one documented place; ``mloop.models.load_model``
takes a folder and points a URI at it."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mloop
from mloop.errors import IntegrityError, ValidationError
from mloop.metadata.sql.registry_store import SqlModelRegistryStore
from mloop.models import load_model as load_package
from mloop.registry import default_registry

X = pd.DataFrame({"a": [0.05, 0.95], "b": [0.0, 1.0]})
LOOKUPS = ("get_model", "get_version", "get_alias")


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every registry row read (model, version, alias), counted by kind."""
    seen: Counter[str] = Counter()
    for name in LOOKUPS:
        original = getattr(SqlModelRegistryStore, name)

        def counted(self: Any, *args: Any, _name: str = name, _f: Any = original) -> Any:
            seen[_name] += 1
            return _f(self, *args)

        monkeypatch.setattr(SqlModelRegistryStore, name, counted)
    return seen


@pytest.fixture
def seeded(project_dir: Any, make_package: Any) -> Any:
    registry = default_registry()
    registry.register_model("lending", make_package(1.0))
    registry.register_model("lending", make_package(0.1))
    registry.set_alias("lending", "production", 1, reason="first")
    return registry


def test_an_alias_is_read_once_and_its_version_once(seeded: Any, lookups: Counter[str]) -> None:
    model = mloop.load_model("models:/lending@production")
    assert lookups == Counter({"get_alias": 1, "get_version": 1})
    assert list(np.asarray(model.predict(X))) == [0, 1]
    assert model.digest == seeded.get_model_version("lending", 1).digest


def test_a_version_uri_is_one_read(seeded: Any, lookups: Counter[str]) -> None:
    model = mloop.registry.load_model("models:/lending/2")
    assert lookups == Counter({"get_version": 1})
    assert model.digest == seeded.get_model_version("lending", 2).digest


def test_a_resolved_version_loads_without_any_read(seeded: Any, lookups: Counter[str]) -> None:
    version = seeded.get_model_version("lending", 2)
    lookups.clear()
    assert seeded.load_model(version).digest == version.digest
    assert sum(lookups.values()) == 0


def test_the_digest_the_registry_recorded_is_checked(seeded: Any) -> None:
    version = seeded.get_model_version("lending", 1)
    with pytest.raises(IntegrityError):
        seeded.load_model(replace(version, digest="0" * 64))
    with pytest.raises(IntegrityError):
        mloop.load_model("models:/lending/1", expected_digest="f" * 64)


def test_models_load_model_takes_a_folder_and_names_the_call_for_uris(
    seeded: Any, make_package: Any
) -> None:
    with pytest.raises(ValidationError, match=r"mloop\.load_model\('models:/lending@production'\)"):
        load_package("models:/lending@production")
    package = make_package(1.0)
    assert mloop.load_model(package.path).digest == package.digest  # a folder, as is
    with pytest.raises(IntegrityError):
        mloop.load_model(package.path, expected_digest="0" * 64)


def test_models_does_not_reach_into_the_registry() -> None:
    """No static import, and no dynamic one through the plugin lookup (the old string plugin)."""
    import ast
    import inspect

    import mloop.models.api

    tree = ast.parse(inspect.getsource(mloop.models.api))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not {m for m in imported if m.startswith(("mloop.registry", "mloop.plugins"))}
    assert "plugins" not in vars(mloop.models.api)
