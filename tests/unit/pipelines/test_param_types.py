"""``pipeline.run(**params)`` checks values against the pipeline function's hints (issue 15)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest

from mloop import pipeline, step
from mloop.config import load_settings
from mloop.errors import ParameterTypeError, PipelineDefinitionError
from mloop.metadata import connect as connect_metadata
from mloop.pipelines.param_types import check_params, coerce


class Kind(enum.Enum):
    LINEAR = "lr"
    FOREST = "rf"


@step
def fit(C: float, model_type: str) -> dict:
    return {"C": C, "model_type": model_type}


@pipeline
def training(C: float = 1.0, model_type: Literal["lr", "rf"] = "lr"):
    fit(C, model_type)


def test_run_refuses_bad_values_before_recording_a_run(project_dir: Path):
    with pytest.raises(ParameterTypeError, match="'C' = 'abc' is not a float") as bad:
        training.run(C="abc")
    assert bad.value.param == "C" and bad.value.expected == "a float"
    with pytest.raises(ParameterTypeError, match="not one of 'lr', 'rf'"):
        training.run(model_type="xgb")
    with pytest.raises(PipelineDefinitionError, match=r"its parameters are \['C', 'model_type'\]"):
        training.run(c=1.0)
    md = connect_metadata(load_settings(project_dir).metadata_url)
    assert md.search_runs(pipeline_name="training") == []
    handle = training.run(C=2, model_type="rf")  # an int widens to a float
    assert handle.outputs["fit"] == {"C": 2.0, "model_type": "rf"}


HINTS: dict[str, Any] = {
    "i": int,
    "f": float,
    "b": bool,
    "s": str,
    "p": Path,
    "lit": Literal["a", 1],
    "opt": Optional[int],  # noqa: UP045 - the spelling users write
    "union": int | str,
    "ints": list[int],
    "pair": tuple[int, str],
    "table": dict[str, float],
    "kind": Kind,
    "ann": Annotated[int, "doc"],
    "anything": Any,
}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("i", 3, 3),
        ("f", 3, 3.0),
        ("f", float("nan"), None),  # nan is a float (compared below with isnan)
        ("b", False, False),
        ("s", "", ""),
        ("p", "data/x.csv", "data/x.csv"),
        ("p", Path("data/x.csv"), "data/x.csv"),
        ("lit", 1, 1),
        ("opt", None, None),
        ("union", "x", "x"),
        ("ints", [1, 2], [1, 2]),
        ("pair", [1, "a"], [1, "a"]),
        ("table", {"a": 1}, {"a": 1.0}),
        ("kind", "rf", "rf"),
        ("kind", "FOREST", "rf"),
        ("ann", 5, 5),
        ("anything", object, object),
    ],
)
def test_values_that_fit(name, value, expected):
    got = coerce(value, HINTS[name])
    if expected is None and isinstance(value, float):
        assert got != got  # nan
    else:
        assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("i", True, "an int"),  # a bool is not an int here
        ("i", 1.5, "an int"),
        ("f", "0.1", "a float"),
        ("b", 1, "a bool"),
        ("s", 1.0, "a str"),
        ("p", 3, "a path"),
        ("lit", "1", "one of 'a', 1"),
        ("lit", True, "one of 'a', 1"),
        ("opt", "x", "an int or None"),
        ("ints", [1, None], "item 1 is None"),
        ("ints", "1,2", "a list"),
        ("pair", [1], "a list of 2 values"),
        ("table", {"a": "x"}, "key 'a'"),
        ("kind", "svm", "one of 'lr', 'rf' (Kind)"),
    ],
)
def test_values_that_do_not_fit(name, value, message):
    with pytest.raises(ParameterTypeError) as err:
        check_params("p", {name: value}, HINTS)
    assert message in str(err.value)


def test_defaults_are_not_checked(project_dir: Path):
    @step
    def show(x: Any) -> str:
        return repr(x)

    @pipeline
    def sloppy(limit: int = None):  # type: ignore[assignment]  # noqa: RUF013 - sloppy on purpose
        show(limit)

    assert sloppy.run().outputs["show"] == "None"
    with pytest.raises(ParameterTypeError):
        sloppy.run(limit="ten")
