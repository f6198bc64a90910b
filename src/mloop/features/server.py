"""The feature server: online features over HTTP, in Feast's wire format, and the hook the
prediction service uses to turn entity-keyed requests into model inputs.

``POST /get-online-features`` takes ``{"features": ["view:feature", ...]}`` or
``{"feature_service": "name"}``, plus ``{"entities": {"join_key": [values]}}`` (request data for
on-demand views goes in ``entities`` too) and answers ``{"metadata": {"feature_names": [...]},
"results": [{"values", "statuses", "event_timestamps"}]}``. Errors are ``{"error_code",
"message"}`` with 400 (unparseable), 404 (unknown feature), 422 (bad entities), 503 (online
store down). ``GET /health`` answers ``{"status": "ok"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mloop.errors import MloopError, ValidationError, wire_status
from mloop.features.definitions import FeatureService
from mloop.features.store import FeatureStore

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Largest request body (bytes) the server reads."""


def parse_request(body: Any) -> tuple[list[str] | str, dict[str, list[Any]], bool]:
    """(features or service name, entity columns, full_feature_names) from a request body."""
    if not isinstance(body, Mapping):
        raise ValidationError("the request body must be a JSON object")
    features = body.get("features")
    service = body.get("feature_service")
    if (features is None) == (service is None):
        raise ValidationError("give exactly one of 'features' (a list) or 'feature_service'")
    if features is not None and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise ValidationError("'features' must be a list of 'view:feature' strings")
    entities = body.get("entities")
    if not isinstance(entities, Mapping) or not entities:
        raise ValidationError("'entities' must be an object of join key -> list of values")
    if not all(isinstance(v, list) for v in entities.values()):
        raise ValidationError("each value in 'entities' must be a list")
    return (
        (features if features is not None else str(service)),
        dict(entities),
        bool(body.get("full_feature_names", False)),
    )


def status_of(exc: MloopError) -> tuple[int, str]:
    """The wire vocabulary every mloop server speaks (:func:`mloop.errors.wire_status`)."""
    return wire_status(exc)


def create_app(store: FeatureStore) -> Any:
    """A Starlette app serving ``store``'s online features."""
    import orjson
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def error(status: int, code: str, message: str) -> Response:
        return JSONResponse({"error_code": code, "message": message}, status_code=status)

    async def get_online_features(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return error(413, "payload_too_large", f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return error(400, "bad_request", f"the body is not JSON: {exc}")
        try:
            features, entities, full = parse_request(body)
            response = await run_in_threadpool(
                store.get_online_features, features, entities, full_feature_names=full
            )
        except MloopError as exc:
            status, code = status_of(exc)
            return error(status, code, str(exc))
        return Response(orjson.dumps(response.to_feast_json()), media_type="application/json")

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/get-online-features", get_online_features, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


class OnlineFeatureHook:
    """Adds online features to entity-keyed request rows: what the prediction service calls
    before ``model.predict``. ``features`` is a FeatureService (or its name, or references)."""

    def __init__(self, store: FeatureStore, features: FeatureService | str | Sequence[str]):
        self.store = store
        self.features = features

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each row with the features added (keys of the row win over nothing: features are
        added under their names; request values stay as sent)."""
        response = self.store.get_online_features(self.features, list(rows))
        columns = response.to_dict()
        out = []
        for i, row in enumerate(rows):
            merged = dict(row)
            for name, values in columns.items():
                merged.setdefault(name, values[i])
            out.append(merged)
        return out
