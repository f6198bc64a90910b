from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mloop.errors import InputSchemaError
from mloop.models import ColumnSpec, Signature
from mloop.serving.signature_check import check_columns, spec_from_signature

SIG = Signature(
    (
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64"),
        ColumnSpec("city", "object"),
        ColumnSpec("member", "bool"),
    )
)


def good() -> dict[str, list[object]]:
    return {"age": [30, 41], "income": [1.5, 2], "city": ["a", "b"], "member": [True, False]}


def test_valid_columns_come_back_as_arrays_of_the_signature_dtypes() -> None:
    out = check_columns(spec_from_signature(SIG), good())
    assert list(out) == ["age", "income", "city", "member"]
    assert out["age"].dtype == np.int64 and out["income"].dtype == np.float64
    assert out["city"].dtype == object and out["member"].dtype == bool
    assert out["income"].tolist() == [1.5, 2.0]


def test_integral_floats_are_accepted_for_integer_columns() -> None:
    cols = good() | {"age": [30.0, 41.0]}
    assert check_columns(spec_from_signature(SIG), cols)["age"].tolist() == [30, 41]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"age": [30.5, 41]}, "age", "expected integers"),
        ({"income": ["x", "y"]}, "income", "expected numbers"),
        ({"income": [1.0, None]}, "income", "missing value"),
        ({"income": [1.0, float("nan")]}, "income", "missing value"),
        ({"city": [1, 2]}, "city", "expected strings"),
        ({"city": ["a", None]}, "city", "missing value"),
        ({"member": [1, 0]}, "member", "expected booleans"),
        ({"member": [True]}, "member", "has 1 values"),
        ({"zip": [1, 2]}, "zip", "not an input"),
        ({"income": [[1.0, 2.0], [3.0, 4.0]]}, "income", "flat list"),
        ({"income": [[1.0], 2.0]}, "income", "cannot be read"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change: dict, field: str, words: str) -> None:
    with pytest.raises(InputSchemaError) as info:
        check_columns(spec_from_signature(SIG), good() | change)
    assert info.value.field == field
    assert words in str(info.value)


def test_missing_column_is_named() -> None:
    cols = good()
    del cols["city"]
    with pytest.raises(InputSchemaError, match=r"'city'.*missing"):
        check_columns(spec_from_signature(SIG), cols)


def test_no_rows_is_refused() -> None:
    with pytest.raises(InputSchemaError, match="no rows"):
        check_columns(spec_from_signature(SIG), {k: [] for k in good()})


def test_nan_is_accepted_when_allowed() -> None:
    spec = spec_from_signature(SIG, allow_nan=True)
    out = check_columns(spec, good() | {"income": [None, 2.0]})
    assert np.isnan(out["income"][0]) and out["income"][1] == 2.0


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["float", "int", "str", "bool"]),
    values=st.lists(_VALUES, min_size=1, max_size=6) | st.lists(st.floats(), min_size=1),
    allow_nan=st.booleans(),
)
def test_the_plain_list_shortcut_agrees_with_the_general_conversion(kind, values, allow_nan):
    """A JSON list takes a cheaper path; it must accept, convert and refuse exactly as the
    general path does (a tuple of the same values takes the general path)."""
    from mloop.serving.signature_check import _convert

    dtype = np.dtype({"float": "float64", "int": "int64", "bool": "bool"}.get(kind, "object"))

    def outcome(vals):
        try:
            arr = _convert("c", kind, dtype, vals, allow_nan)
        except InputSchemaError as exc:
            return ("error", str(exc))
        return ("ok", arr.dtype, [repr(v) for v in arr.tolist()])

    assert outcome(list(values)) == outcome(tuple(values))


NULLABLE_SIG = Signature(
    (
        ColumnSpec("age", "int64", nullable=True),
        ColumnSpec("income", "float64", nullable=True),
        ColumnSpec("debt", "float64", nullable=False),
        ColumnSpec("city", "object", nullable=True),
        ColumnSpec("term", "object", nullable=False),
    )
)


def nullable_row() -> dict[str, list[object]]:
    return {
        "age": [30, None],
        "income": [None, float("nan")],
        "debt": [1.0, 2.0],
        "city": [None, "paris"],
        "term": ["36", "60"],
    }


def test_missing_values_are_accepted_where_the_signature_allows_them() -> None:
    out = check_columns(spec_from_signature(NULLABLE_SIG), nullable_row())
    assert np.isnan(out["income"]).all()
    assert out["age"].dtype == np.float64 and out["age"][0] == 30 and np.isnan(out["age"][1])
    assert out["city"].tolist() == [None, "paris"]
    # arrays as Arrow and CSV readers give them: NaN among strings, NaN in an int column
    arrays = nullable_row() | {
        "city": np.array([float("nan"), "paris"], dtype=object),
        "age": np.array([30.0, np.nan]),
    }
    out = check_columns(spec_from_signature(NULLABLE_SIG), arrays)
    assert out["city"].tolist() == [None, "paris"] and np.isnan(out["age"][1])


@pytest.mark.parametrize(
    ("column", "values"),
    [("debt", [None, 1.0]), ("debt", [float("nan"), 1.0]), ("term", [None, "60"])],
)
def test_missing_values_are_refused_by_name_where_the_signature_does_not(column, values):
    with pytest.raises(InputSchemaError, match=rf"'{column}'.*missing value.*--allow-nan"):
        check_columns(spec_from_signature(NULLABLE_SIG), nullable_row() | {column: values})
    spec = spec_from_signature(NULLABLE_SIG, allow_nan=True)  # the override still works
    assert len(check_columns(spec, nullable_row() | {column: values})[column]) == 2


def test_a_signature_without_nullability_refuses_missing_values_as_before() -> None:
    with pytest.raises(InputSchemaError, match=r"'income'.*missing value"):
        check_columns(spec_from_signature(SIG), good() | {"income": [None, 2.0]})
