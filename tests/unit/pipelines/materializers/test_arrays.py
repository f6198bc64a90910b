"""numpy arrays and scalars: exact round trips as .npy, object arrays only through pickle."""

from __future__ import annotations

from itertools import count

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import ValidationError
from mloop.pipelines.materializers import load_value, materializer_for, store_value

_N = count()

dtypes = (
    hnp.integer_dtypes()
    | hnp.unsigned_integer_dtypes()
    | hnp.floating_dtypes()
    | hnp.complex_number_dtypes()
    | hnp.datetime64_dtypes()
    | st.just(np.dtype(bool))
    | hnp.unicode_string_dtypes()
    | hnp.byte_string_dtypes()
)
arrays = hnp.arrays(dtype=dtypes, shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(array=arrays)
def test_arrays_round_trip_exactly(store: LocalArtifactStore, array: np.ndarray) -> None:
    stored = store_value(array, store, f"a/{next(_N)}")
    assert stored.materializer == "numpy.npy"
    assert stored.properties["shape"] == list(array.shape)
    assert stored.properties["dtype"] == str(array.dtype)
    out = load_value(store, stored.uri, stored.materializer, digest=stored.digest)
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    assert out.tobytes() == array.tobytes()  # bit-exact, nan payloads included


def test_fortran_order_and_views(store: LocalArtifactStore) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    for i, arr in enumerate([np.asfortranarray(base), base[::2, 1::3]]):
        stored = store_value(arr, store, f"v{i}")
        np.testing.assert_array_equal(load_value(store, stored.uri, stored.materializer), arr)


def test_loaded_arrays_are_writable(store: LocalArtifactStore) -> None:
    store_value(np.zeros(3), store, "z")
    out = load_value(store, "z", "numpy.npy")
    out[0] = 1.0
    assert out[0] == 1.0


def test_object_arrays_are_refused_without_pickle() -> None:
    arr = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(ValidationError, match=r"numpy\.ndarray.*dtype=object"):
        materializer_for(arr)


def test_object_arrays_pickle_when_allowed(store: LocalArtifactStore) -> None:
    arr = np.array([{"a": 1}, None], dtype=object)
    stored = store_value(arr, store, "o", allow_pickle=True)
    assert stored.materializer == "pickle"
    out = load_value(store, "o", "pickle", digest=stored.digest)
    assert out.dtype == object and list(out) == [{"a": 1}, None]


@pytest.mark.parametrize("scalar", [np.int64(-3), np.float32(1.5), np.bool_(True), np.uint8(255)])
def test_numpy_scalars_keep_their_type(store: LocalArtifactStore, scalar: np.generic) -> None:
    stored = store_value(scalar, store, "s")
    assert stored.materializer == "numpy.scalar"
    out = load_value(store, "s", stored.materializer, digest=stored.digest)
    assert type(out) is type(scalar) and out == scalar
