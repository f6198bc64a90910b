"""``-p key=value``: values are YAML scalars, turned into JSON values."""

from __future__ import annotations

import pytest

from mloop.cli.params import parse_param, parse_params
from mloop.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=200", ("n", 200)),
        ("rate=0.25", ("rate", 0.25)),
        ("rate=1e-3", ("rate", 0.001)),
        ("flag=true", ("flag", True)),
        ("flag=False", ("flag", False)),
        ("name=abc", ("name", "abc")),
        ("path=data/x.parquet", ("path", "data/x.parquet")),
        ("version='1.0'", ("version", "1.0")),
        ("empty=", ("empty", "")),
        ("nothing=null", ("nothing", None)),
        ("expr=a=b", ("expr", "a=b")),
        ("when=2024-01-31", ("when", "2024-01-31")),
        ("ks=[1, 2]", ("ks", [1, 2])),
        (" key = 3", ("key", 3)),
        ("odd=a: b: c", ("odd", "a: b: c")),
    ],
)
def test_values_are_yaml_scalars(text: str, expected: tuple[str, object]) -> None:
    key, value = parse_param(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["novalue", "=3", ""])
def test_missing_key_or_equals_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_param(text)


def test_params_collect_and_refuse_duplicates() -> None:
    assert parse_params(["a=1", "b=x"]) == {"a": 1, "b": "x"}
    with pytest.raises(ConfigError, match="twice"):
        parse_params(["a=1", "a=2"])
