"""Cache keys: equal exactly when step, code, parameters and input contents are equal."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from mloop._utils.hashing import canonical_json
from mloop.metadata.entities import Artifact
from mloop.pipelines.caching import cache_key

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
params_st = st.dictionaries(st.text(min_size=1, max_size=6), json_scalars, max_size=4)
digests = st.text("0123456789abcdef", min_size=64, max_size=64)
WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def art(digest: str, materializer: str = "builtins.json", version: int = 1) -> Artifact:
    return Artifact(
        id="a" + digest[:6],
        type="Value",
        uri=f"runs/x/{digest[:6]}",
        digest=digest,
        size=1,
        created_at=WHEN,
        materializer=materializer,
        properties={"materializer_version": version},
    )


@given(params_st, st.dictionaries(st.sampled_from("abc"), digests, max_size=3))
def test_key_is_deterministic_and_ignores_order(params, inputs):
    arts = {k: art(v) for k, v in inputs.items()}
    forward = cache_key("s", "code", params, arts)
    backward = cache_key(
        "s", "code", dict(reversed(params.items())), dict(reversed(list(arts.items())))
    )
    assert forward == backward and len(forward) == 64


@given(params_st, digests, digests)
def test_key_changes_with_input_content(params, d1, d2):
    same = cache_key("s", "c", params, {"x": art(d1)}) == cache_key(
        "s", "c", params, {"x": art(d2)}
    )
    assert same == (d1 == d2)


@given(params_st, params_st)
def test_key_changes_with_params(p1, p2):
    # JSON equality, not Python's: False == 0 in Python, but they are different parameters
    same_params = canonical_json(p1) == canonical_json(p2)
    assert (cache_key("s", "c", p1, {}) == cache_key("s", "c", p2, {})) == same_params


def test_key_changes_with_code_step_name_and_materializer_version():
    base = cache_key("s", "c", {"a": 1}, {"x": art("0" * 64)})
    assert cache_key("s", "c2", {"a": 1}, {"x": art("0" * 64)}) != base
    assert cache_key("t", "c", {"a": 1}, {"x": art("0" * 64)}) != base
    assert cache_key("s", "c", {"a": 1}, {"x": art("0" * 64, version=2)}) != base
    assert cache_key("s", "c", {"a": 1}, {"x": art("0" * 64, materializer="numpy.npy")}) != base
