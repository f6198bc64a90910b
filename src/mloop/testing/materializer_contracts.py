"""The behaviour every :class:`~mloop.pipelines.materializers.Materializer` must show.

A materializer's tests subclass :class:`MaterializerContract`, set ``__test__ = True`` and
``backend = ("materializers", NAME)`` (its recorded name), and override the ``samples`` fixture
(values it stores, edge cases included: empty, nulls, tz-aware times) and, when ``==`` does not
compare its values, :meth:`MaterializerContract.assert_same`::

    class TestMyMaterializer(MaterializerContract):
        __test__ = True
        backend = ("materializers", "mylib.format")

        @pytest.fixture
        def samples(self):
            return [MyValue(...), MyValue.empty()]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mloop import plugins
from mloop.artifacts.content import hash_folder
from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import IntegrityError, ValidationError
from mloop.pipelines.materializers import (
    Materializer,
    load_value,
    materializer_by_name,
    materializer_for,
    store_value,
)

__all__ = ["MaterializerContract"]


class MaterializerContract:
    """Save into a folder and load back the same value; be chosen by type; publish through an
    artifact store with a digest that is checked; write the same bytes for the same value."""

    __test__ = False
    backend: ClassVar[tuple[str, str]]
    chosen_by_type: ClassVar[bool] = True  # False for an opt-in one (pickle)

    @pytest.fixture
    def samples(self) -> list[Any]:
        raise NotImplementedError("override the 'samples' fixture in the materializer's tests")

    @pytest.fixture
    def materializer(self) -> Materializer:
        assert self.backend[0] == "materializers"
        return materializer_by_name(self.backend[1])

    def assert_same(self, loaded: Any, original: Any) -> None:
        """Override for values ``==`` does not compare (frames, arrays)."""
        assert type(loaded) is type(original)
        assert loaded == original

    def test_the_table_names_it_with_its_recorded_name(self, materializer: Materializer) -> None:
        cls = plugins.load(*self.backend)
        assert isinstance(cls, type) and issubclass(cls, Materializer)
        assert isinstance(materializer, cls)
        assert cls.name == self.backend[1]  # what the metadata store records
        assert isinstance(cls.version, int) and cls.version >= 1
        assert isinstance(cls.artifact_type, str) and cls.artifact_type

    def test_round_trip_through_a_folder(
        self, materializer: Materializer, samples: list[Any], tmp_path: Path
    ) -> None:
        assert samples
        for i, value in enumerate(samples):
            folder = tmp_path / f"v{i}"
            folder.mkdir()
            assert materializer.unsupported_reason(value) is None
            properties = materializer.save(value, folder)
            json.dumps(properties)  # recorded beside the artifact
            self.assert_same(materializer.load(folder), value)

    def test_chosen_for_its_values(self, materializer: Materializer, samples: list[Any]) -> None:
        for value in samples:
            if self.chosen_by_type:
                assert materializer_for(value).name == materializer.name
            else:  # opt-in only: refused by default, chosen when allowed
                with pytest.raises(ValidationError):
                    materializer_for(value)
                assert materializer_for(value, allow_pickle=True).name == materializer.name

    def test_published_with_a_checked_digest(
        self, materializer: Materializer, samples: list[Any], tmp_path: Path
    ) -> None:
        store = LocalArtifactStore(tmp_path / "artifacts")
        value = samples[0]
        stored = store_value(value, store, "runs/r/out", materializer=materializer.name)
        assert stored.materializer == materializer.name
        assert stored.version == materializer.version and stored.size > 0
        loaded = load_value(store, stored.uri, stored.materializer, digest=stored.digest)
        self.assert_same(loaded, value)
        with pytest.raises(IntegrityError):
            load_value(store, stored.uri, stored.materializer, digest="0" * 64)

    def test_the_same_value_gives_the_same_bytes(
        self, materializer: Materializer, samples: list[Any], tmp_path: Path
    ) -> None:
        """Downstream cache keys hold output digests, so they must not change run to run."""
        digests = []
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            materializer.save(samples[0], folder)
            digests.append(hash_folder(folder).digest)
        assert digests[0] == digests[1]
