"""``/openapi.json``: the service's routes described for humans, clients and fuzzers.

The request schemas are built from the served model's signature (one OIP input per column, the
MLflow records' properties), so a generated client or a property-based fuzzer (schemathesis)
sends bodies shaped like real ones; the error answers are described once.
"""

from __future__ import annotations

from typing import Any

from mloop.serving.signature_check import oip_datatype

__all__ = ["DOCS_HTML", "PROMETHEUS_TEXT", "openapi_document"]

PROMETHEUS_TEXT = "text/plain"
"""The media type of ``/metrics`` (Prometheus' text format; parameters left out)."""

_JSON_TYPES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}

DOCS_HTML = """<!doctype html><html><head><meta charset="utf-8">
<title>mloop prediction service</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto}</style>
</head><body><h1>mloop prediction service</h1>
<p>The OpenAPI description is at <a href="/openapi.json">/openapi.json</a>; load it into any
OpenAPI viewer or client generator.</p>
<ul><li><code>POST /v2/models/{name}/infer</code>: Open Inference Protocol v2</li>
<li><code>POST /invocations</code>: MLflow scoring format</li>
<li><code>POST /feedback</code>: ground-truth labels by request id</li>
<li><code>GET /v2/health/ready</code>, <code>GET /metrics</code></li></ul></body></html>"""

_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}


def _errors(*codes: int) -> dict[str, Any]:
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    text = {
        400: "Unparseable body",
        401: "Missing or wrong token",
        403: "Admin API closed or wrong admin token",
        404: "Unknown model or version",
        413: "Body over the size limit",
        422: "Input breaks the model's signature (the message names the field)",
        503: "No model loaded yet",
    }
    return {str(c): {"description": text[c], "content": ref} for c in codes}


def _ok(schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    content = {media: {"schema": schema or {"type": "object"}}}
    return {"200": {"description": "OK", "content": content}}


def _value(spec: Any, col: str) -> dict[str, Any]:
    """The JSON schema of one value of ``col`` (``nullable`` where it accepts null)."""
    schema: dict[str, Any] = {"type": _JSON_TYPES[spec.kinds[col]]}
    if spec.accepts_missing(col):
        schema["nullable"] = True
    return schema


def openapi_document(model: Any | None) -> dict[str, Any]:
    """The OpenAPI 3.0 document; ``model`` (a ServedModel, or None before loading) shapes the
    request schemas."""
    from mloop import __version__

    spec = model.spec if model is not None else None
    name = model.name if model is not None else "model"
    oip_inputs: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"type": "object"}}
    record: dict[str, Any] = {"type": "object"}
    if spec is not None:
        variants = []
        for col in spec.names:
            kind = spec.kinds[col]
            variants.append(
                {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string", "enum": [col]},
                        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                        "datatype": {
                            "type": "string",
                            "enum": [oip_datatype(kind, spec.dtypes[col])],
                        },
                        "data": {"type": "array", "items": _value(spec, col)},
                    },
                }
            )
        oip_inputs = {"type": "array", "minItems": 1, "items": {"oneOf": variants}}
        record = {
            "type": "object",
            "required": list(spec.names),
            "properties": {c: _value(spec, c) for c in spec.names},
        }
    infer_body = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": oip_inputs,
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "enum": ["predict", "predict_proba"]}
                    },
                },
            },
        },
    }
    invocation = {
        "type": "object",
        "properties": {
            "dataframe_records": {"type": "array", "items": record},
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {"type": "array"}},
                },
            },
            "instances": {"type": "array", "items": record},
            "inputs": {"type": "array", "items": record},
        },
    }
    feedback = {
        "type": "object",
        "required": ["request_id"],
        "properties": {
            "request_id": {"type": "string"},
            "label": {},
            "labels": {"type": "array"},
        },
    }
    name_param = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    ]

    def body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
        return {"required": True, "content": {media: {"schema": schema}}}

    text = _ok({"type": "string"}, "text/plain")
    paths: dict[str, Any] = {
        "/v2/health/live": {"get": {"summary": "Liveness", "responses": _ok()}},
        "/v2/health/ready": {
            "get": {"summary": "Readiness", "responses": {**_ok(), **_errors(503)}}
        },
        "/v2": {"get": {"summary": "Server metadata", "responses": _ok()}},
        "/v2/models/{name}": {
            "get": {
                "summary": "Model metadata (inputs, outputs, datatypes)",
                "parameters": name_param,
                "responses": {**_ok(), **_errors(401, 404, 503)},
            }
        },
        "/v2/models/{name}/ready": {
            "get": {
                "summary": "Model readiness",
                "parameters": name_param,
                "responses": {**_ok(), **_errors(401, 404, 503)},
            }
        },
        "/v2/models/{name}/infer": {
            "post": {
                "summary": f"Open Inference Protocol v2 inference (model {name!r})",
                "parameters": name_param,
                "requestBody": body(infer_body),
                "responses": {**_ok(), **_errors(400, 401, 404, 413, 422, 503)},
            }
        },
        "/invocations": {
            "post": {
                "summary": "MLflow scoring format",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": invocation},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "responses": {**_ok(), **_errors(400, 401, 413, 422, 503)},
            }
        },
        "/ping": {"get": {"summary": "MLflow health", "responses": {**text, **_errors(503)}}},
        "/health": {"get": {"summary": "MLflow health", "responses": {**text, **_errors(503)}}},
        "/version": {"get": {"summary": "mloop version", "responses": text}},
        "/feedback": {
            "post": {
                "summary": "Ground-truth labels by request id",
                "requestBody": body(feedback),
                "responses": {**_ok(), **_errors(400, 401, 413, 422, 503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "responses": {**_ok({"type": "string"}, PROMETHEUS_TEXT), **_errors(401)},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "mloop prediction service", "version": __version__},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }
