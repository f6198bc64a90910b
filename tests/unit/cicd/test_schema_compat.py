"""Signature compatibility between the served model and a candidate."""

from __future__ import annotations

import pandas as pd

from mloop.cicd.ci.schema_compat import compare_signatures, nullable_columns


def sig(*inputs: tuple[str, str], output: str = "int64") -> dict:
    return {
        "inputs": [{"name": n, "dtype": d, "shape": [-1]} for n, d in inputs],
        "outputs": [{"name": "predict", "dtype": output, "shape": [-1]}],
    }


CURRENT = sig(("age", "int64"), ("income", "float64"), ("state", "object"))


def test_the_same_signature_is_compatible() -> None:
    assert compare_signatures(CURRENT, CURRENT) == []


def test_added_and_removed_inputs_break_clients() -> None:
    candidate = sig(("age", "int64"), ("income", "float64"), ("grade", "object"))
    assert compare_signatures(CURRENT, candidate) == [
        "input 'grade' is new (clients of the current model do not send it)",
        "input 'state' was removed (clients still send it; the service refuses unknown inputs)",
    ]


def test_widening_passes_and_other_dtype_changes_fail() -> None:
    widened = sig(("age", "float64"), ("income", "float64"), ("state", "object"))
    assert compare_signatures(CURRENT, widened) == []
    narrowed = sig(("age", "int64"), ("income", "float32"), ("state", "int64"))
    problems = compare_signatures(CURRENT, narrowed)
    assert "input 'income' narrowed float64 -> float32 (precision is lost)" in problems
    assert "input 'state' changed dtype object -> int64" in problems


def test_a_nullable_float_becoming_int_loses_nulls() -> None:
    candidate = sig(("age", "int64"), ("income", "int64"), ("state", "object"))
    assert compare_signatures(CURRENT, candidate) == [
        "input 'income' changed dtype float64 -> int64",
        "input 'income' accepted missing values (float64) but the candidate's int64 does not",
    ]


def test_nulls_in_the_served_example_make_a_column_nullable() -> None:
    example = pd.DataFrame({"age": [1, 2], "income": [1.0, 2.0], "state": ["CA", None]})
    assert nullable_columns(CURRENT, example) == {"income", "state"}
    assert nullable_columns(CURRENT) == {"income"}


def test_a_changed_output_dtype_is_reported() -> None:
    candidate = sig(("age", "int64"), ("income", "float64"), ("state", "object"), output="object")
    assert compare_signatures(CURRENT, candidate) == [
        "output 'predict' changed dtype int64 -> object (clients read different values)"
    ]
