"""The behaviour every model :class:`~mloop.models.flavors.Flavor` must show.

A flavor's tests subclass :class:`FlavorContract`, set ``__test__ = True`` and ``backend =
("model_flavors", NAME)``, and override the ``case`` fixture: a fitted model of the flavor's
library, an input frame, and what the model itself answers on it::

    class TestMyFlavor(FlavorContract):
        __test__ = True
        backend = ("model_flavors", "my-flavor")  # or "pkg.mod:MyFlavor"

        @pytest.fixture
        def case(self):
            model = fit_something()
            return FlavorCase(model, frame, model.predict(frame), model.predict_proba(frame))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from mloop import plugins
from mloop.errors import IntegrityError
from mloop.models import load_model, save_model
from mloop.models.flavors import KIND, Flavor, flavor_by_name, flavor_for

__all__ = ["FlavorCase", "FlavorContract"]


@dataclass
class FlavorCase:
    """``model`` fitted; ``frame`` a pandas input; ``expected`` the model's own predictions on
    it (labels or values); ``expected_proba`` its class probabilities, None when it has none."""

    model: Any
    frame: Any
    expected: Any
    expected_proba: Any = None
    rtol: float = 1e-6


class FlavorContract:
    """Save in the library's format, load back, predict the same; picked for its models."""

    __test__ = False
    backend: ClassVar[tuple[str, str]]

    @pytest.fixture
    def case(self) -> FlavorCase:
        raise NotImplementedError("override the 'case' fixture in the flavor's test class")

    @pytest.fixture
    def flavor(self) -> Flavor:
        assert self.backend[0] == KIND
        flavor = flavor_by_name(self.backend[1])
        pytest.importorskip(flavor.module)  # an optional extra not installed here
        return flavor

    def test_the_table_names_a_flavor_with_that_name(self, flavor: Flavor) -> None:
        cls = plugins.load(*self.backend)
        assert isinstance(cls, type) and issubclass(cls, Flavor)
        assert isinstance(flavor, cls)
        if self.backend[1] in plugins.builtins(KIND):
            assert cls.name == self.backend[1]  # the name a manifest records
        assert isinstance(flavor.module, str) and flavor.distributions

    def test_matches_its_models_and_not_others(self, flavor: Flavor, case: FlavorCase) -> None:
        assert flavor.matches(case.model)
        assert not flavor.matches(object())
        assert not flavor.matches({"fit": 1, "predict": 2})
        if self.backend[1] in plugins.builtins(KIND):
            assert flavor_for(case.model).name == flavor.name

    def test_save_load_predict_round_trip(
        self, flavor: Flavor, case: FlavorCase, tmp_path: Path
    ) -> None:
        folder = tmp_path / "m"
        folder.mkdir()
        options = flavor.save(case.model, folder, case.frame)
        assert isinstance(options, dict)
        json.dumps(options)  # options go into the JSON manifest
        assert any(folder.iterdir())
        native = flavor.load(folder, options)
        predicted = np.asarray(flavor.predict(native, case.frame, options))
        assert predicted.shape[0] == len(case.frame)
        _close(predicted, case.expected, case.rtol)
        proba = flavor.predict_proba(native, case.frame, options)
        if case.expected_proba is None:
            assert proba is None and not flavor.has_proba(native, options)
        else:
            assert flavor.has_proba(native, options)
            _close(np.asarray(proba), case.expected_proba, case.rtol)

    def test_libraries_are_the_installed_distributions(self, flavor: Flavor) -> None:
        found = flavor.libraries()
        assert found and set(found) <= set(flavor.distributions)
        assert all(isinstance(v, str) and v for v in found.values())

    def test_package_is_loaded_only_with_its_digest(
        self, flavor: Flavor, case: FlavorCase, tmp_path: Path
    ) -> None:
        package = save_model(
            case.model, tmp_path / "pkg", input_example=case.frame, flavor=self.backend[1]
        )
        assert package.flavor == flavor.name
        loaded = load_model(package.path, expected_digest=package.digest)
        if case.expected_proba is not None:
            _close(np.asarray(loaded.predict_proba(case.frame)), case.expected_proba, case.rtol)
        native_file = next(
            p for p in sorted(package.path.rglob("*")) if p.is_file() and p.suffix != ".json"
        )
        native_file.write_bytes(native_file.read_bytes() + b"\0")
        with pytest.raises(IntegrityError):
            load_model(package.path)


def _close(got: Any, expected: Any, rtol: float) -> None:
    expected = np.asarray(expected)
    if np.issubdtype(expected.dtype, np.number):
        np.testing.assert_allclose(got.astype(float), expected.astype(float), rtol=rtol, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, expected)
