"""JSON values and bytes: exact round trips, tags, and what JSON refuses."""

from __future__ import annotations

import math
from collections import OrderedDict
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mloop.artifacts.local import LocalArtifactStore
from mloop.errors import ValidationError
from mloop.pipelines.materializers import load_value, store_value
from mloop.pipelines.materializers.base import UnsupportedValueError
from mloop.pipelines.materializers.values import decode_json, encode_json

_N = count()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equality that treats nan as equal to nan and checks exact types."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_json_values_round_trip_exactly(store: LocalArtifactStore, value: Any) -> None:
    stored = store_value(value, store, f"v/{next(_N)}")
    assert stored.materializer == "builtins.json"
    assert stored.artifact_type == "Value"
    assert same(load_value(store, stored.uri, stored.materializer, digest=stored.digest), value)


@given(value=json_values)
def test_encode_decode_are_inverse(value: Any) -> None:
    assert same(decode_json(encode_json(value)), value)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        2**64,
        -(2**80),
        {"$float": "nan"},
        {"$dict": {}},
        {"$int": "1"},
        [{"$x": [math.inf]}],
        "",
    ],
)
def test_tagged_values_round_trip(store: LocalArtifactStore, value: Any) -> None:
    stored = store_value(value, store, "v")
    assert same(load_value(store, "v", stored.materializer, digest=stored.digest), value)


def test_tuples_come_back_as_lists_and_subclasses_as_base_types(store: LocalArtifactStore) -> None:
    stored = store_value((1, (2, "a")), store, "t")
    assert load_value(store, "t", stored.materializer) == [1, [2, "a"]]
    store_value(OrderedDict(b=1, a=2), store, "o")
    assert type(load_value(store, "o", "builtins.json")) is dict


def test_non_string_keys_are_refused_without_pickle(store: LocalArtifactStore) -> None:
    with pytest.raises(UnsupportedValueError, match="JSON keys must be str"):
        store_value({1: "a"}, store, "k")
    assert not store.exists("k")


def test_non_string_keys_fall_back_to_pickle_when_allowed(store: LocalArtifactStore) -> None:
    stored = store_value({1: "a", (2, 3): {4}}, store, "k", allow_pickle=True)
    assert stored.materializer == "pickle"
    assert load_value(store, "k", "pickle", digest=stored.digest) == {1: "a", (2, 3): {4}}


def test_json_properties(store: LocalArtifactStore) -> None:
    assert store_value([1, 2, 3], store, "l").properties == {"python_type": "list", "length": 3}


def test_too_deep_values_are_refused() -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValidationError, match="deeper"):
        encode_json(deep)


@pytest.mark.parametrize("value", [b"\x00\xffraw", bytearray(b"ba"), memoryview(b"mv")])
def test_bytes_round_trip_as_bytes(store: LocalArtifactStore, value: Any) -> None:
    stored = store_value(value, store, "b")
    assert stored.materializer == "builtins.bytes"
    assert stored.properties == {"length": len(bytes(value))}
    assert stored.size == len(bytes(value))
    assert load_value(store, "b", stored.materializer, digest=stored.digest) == bytes(value)
