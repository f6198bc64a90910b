from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from mloop.errors import InputSchemaError, RequestParseError
from mloop.models import ColumnSpec, Signature
from mloop.serving.http.protocols import mlflow, oip_v2
from mloop.serving.signature_check import check_columns, spec_from_signature

SPEC = spec_from_signature(
    Signature(
        (ColumnSpec("age", "int64"), ColumnSpec("income", "float64"), ColumnSpec("city", "object"))
    )
)


def oip(**override):
    doc = {
        "id": "r1",
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [30, 40]},
            {"name": "income", "shape": [2, 1], "datatype": "FP64", "data": [[1.5], [2.5]]},
            {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]},
        ],
    }
    doc.update(override)
    return orjson.dumps(doc)


def test_oip_json_request_becomes_columns() -> None:
    req = oip_v2.parse_infer_request(oip(), {}, SPEC)
    assert req.id == "r1" and req.outputs == ("predict",)
    out = check_columns(SPEC, req.columns)
    assert out["income"].tolist() == [1.5, 2.5] and out["city"].tolist() == ["a", "b"]


def test_oip_binary_tensor_extension_is_decoded() -> None:
    ages = np.asarray([30, 40], dtype="<i8").tobytes()
    incomes = np.asarray([1.5, 2.5], dtype="<f8").tobytes()
    cities = b"".join(struct.pack("<I", len(s)) + s for s in (b"a", b"bcd"))
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "age",
                    "shape": [2],
                    "datatype": "INT64",
                    "parameters": {"binary_data_size": len(ages)},
                },
                {
                    "name": "income",
                    "shape": [2],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(incomes)},
                },
                {
                    "name": "city",
                    "shape": [2],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(cities)},
                },
            ]
        }
    )
    body = header + ages + incomes + cities
    req = oip_v2.parse_infer_request(body, {oip_v2.BINARY_HEADER: str(len(header))}, SPEC)
    out = check_columns(SPEC, req.columns)
    assert out["age"].tolist() == [30, 40] and out["city"].tolist() == ["a", "bcd"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}, "age"),
        ({"inputs": [{"name": "zip", "shape": [1], "datatype": "INT64", "data": [1]}]}, "zip"),
        ({"inputs": [{"name": "age", "shape": [2, 3], "datatype": "INT64", "data": [1]}]}, "age"),
        ({"inputs": [{"name": "age", "shape": [3], "datatype": "INT64", "data": [1]}]}, "age"),
        ({"inputs": []}, "inputs"),
        ({"outputs": [{"name": "logits"}]}, "outputs"),
        ({"id": 7}, "id"),
    ],
)
def test_oip_wrong_content_names_the_field(override: dict, field: str) -> None:
    with pytest.raises(InputSchemaError) as info:
        oip_v2.parse_infer_request(oip(**override), {}, SPEC)
    assert info.value.field == field


def test_oip_unparseable_bodies_are_parse_errors() -> None:
    with pytest.raises(RequestParseError):
        oip_v2.parse_infer_request(b"{not json", {}, SPEC)
    with pytest.raises(RequestParseError):
        oip_v2.parse_infer_request(oip(), {oip_v2.BINARY_HEADER: "999999"}, SPEC)


def test_oip_response_holds_the_outputs_asked_for() -> None:
    body = oip_v2.encode_infer_response(
        model_name="m",
        model_version="3",
        request_id="r",
        predictions=np.asarray([1, 0]),
        probabilities=np.asarray([[0.2, 0.8], [0.9, 0.1]]),
        outputs=("predict", "predict_proba"),
    )
    doc = orjson.loads(body)
    assert doc["model_version"] == "3" and doc["id"] == "r"
    pred, proba = doc["outputs"]
    assert pred == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]}
    assert proba["shape"] == [2, 2] and proba["data"] == [0.2, 0.8, 0.9, 0.1]


@pytest.mark.parametrize(
    "doc",
    [
        {
            "dataframe_split": {
                "columns": ["age", "income", "city"],
                "data": [[30, 1.5, "a"], [40, 2.5, "b"]],
            }
        },
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": ["age", "income", "city"],
                "data": [[30, 1.5, "a"], [40, 2.5, "b"]],
            }
        },
        {
            "dataframe_records": [
                {"age": 30, "income": 1.5, "city": "a"},
                {"age": 40, "income": 2.5, "city": "b"},
            ]
        },
        {
            "instances": [
                {"age": 30, "income": 1.5, "city": "a"},
                {"age": 40, "income": 2.5, "city": "b"},
            ]
        },
        {"inputs": {"age": [30, 40], "income": [1.5, 2.5], "city": ["a", "b"]}},
        {"instances": [[30, 1.5, "a"], [40, 2.5, "b"]]},
    ],
)
def test_mlflow_formats_give_the_same_columns(doc: dict) -> None:
    cols = mlflow.parse_invocation(orjson.dumps(doc), "application/json", SPEC)
    out = check_columns(SPEC, cols)
    assert out["age"].tolist() == [30, 40] and out["city"].tolist() == ["a", "b"]


def test_mlflow_csv() -> None:
    cols = mlflow.parse_invocation(b"age,income,city\n30,1.5,a\n40,2.5,b\n", "text/csv", SPEC)
    assert check_columns(SPEC, cols)["income"].tolist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}, "dataframe_split.data[0]"),
        ({"dataframe_records": [{"age": 1}, {"income": 2.0}]}, "income"),
        ({"instances": [], "inputs": []}, "body"),
        ({"dataframe_records": [{"age": 1}], "params": {"k": 1}}, "params"),
        ({"dataframe_records": [{"age": 1}], "extra": 1}, "extra"),
    ],
)
def test_mlflow_wrong_content_names_the_field(doc: dict, field: str) -> None:
    with pytest.raises(InputSchemaError) as info:
        mlflow.parse_invocation(orjson.dumps(doc), "application/json", SPEC)
    assert info.value.field == field


def test_mlflow_unknown_content_type_and_bad_json() -> None:
    with pytest.raises(RequestParseError, match="text/plain"):
        mlflow.parse_invocation(b"x", "text/plain", SPEC)
    with pytest.raises(RequestParseError):
        mlflow.parse_invocation(b"[1,", "application/json", SPEC)
