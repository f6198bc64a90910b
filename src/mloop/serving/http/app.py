"""``create_app(config)``: the prediction service as a Starlette ASGI app (routes only).

Open Inference Protocol v2 under ``/v2``, MLflow scoring on ``/invocations`` with ``/ping``,
``/health`` and ``/version``, ``/feedback``, Prometheus ``/metrics``, ``/openapi.json`` and
``/docs``, and the admin API under ``/admin`` (reload, traffic). The behaviour lives in
:class:`~mloop.serving.service.PredictionService`; this module maps URLs to it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from mloop.errors import InputSchemaError, ModelNotReadyError, RequestParseError
from mloop.serving.batching import BatchResult
from mloop.serving.http.errors import exception_handlers
from mloop.serving.http.fast_routes import FastRoute, ServingApp
from mloop.serving.http.openapi import DOCS_HTML, openapi_document
from mloop.serving.http.protocols import mlflow, oip_v2
from mloop.serving.metrics import CONTENT_TYPE_LATEST
from mloop.serving.models.holder import Slot
from mloop.serving.service import ParsedRequest, PredictionService, read_body
from mloop.serving.settings import ServingConfig, TrafficSplit

__all__ = ["create_app"]


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def _oip_parse(body: bytes, request: Request, slot: Slot) -> ParsedRequest:
    parsed = oip_v2.parse_infer_request(body, request.headers, slot.model.spec)
    return parsed.columns, parsed.id, "predict_proba" in parsed.outputs


def _oip_encode(slot: Slot, request_id: str, result: BatchResult, parsed: ParsedRequest) -> bytes:
    model = slot.model
    outputs = ("predict", "predict_proba") if parsed[2] else ("predict",)
    if parsed[2] and result.probabilities is None:
        raise InputSchemaError("outputs", f"model {model.name!r} has no predict_proba output")
    return oip_v2.encode_infer_response(
        model_name=model.name,
        model_version=model.version,
        request_id=request_id,
        predictions=result.predictions,
        probabilities=result.probabilities,
        outputs=outputs,
        classes=model.classes,
    )


def _mlflow_parse(body: bytes, request: Request, slot: Slot) -> ParsedRequest:
    content_type = request.headers.get("content-type", "application/json")
    return mlflow.parse_invocation(body, content_type, slot.model.spec), None, False


def _mlflow_encode(
    slot: Slot, request_id: str, result: BatchResult, parsed: ParsedRequest
) -> bytes:
    return mlflow.encode_predictions(result.predictions)


def create_app(config: ServingConfig, *, loader: Any = None) -> ServingApp:
    """The ASGI app serving ``config.model_uri``; ``loader(uri) -> ServedModel`` replaces the
    default (package folder or registry) loader, e.g. in tests."""
    service = PredictionService(config, loader=loader)

    async def infer(request: Request) -> Response:
        params = request.scope["path_params"]
        return await service.predict(
            request,
            "oip",
            _oip_parse,
            _oip_encode,
            model_name=params["name"],
            model_version=params.get("version"),
        )

    async def invocations(request: Request) -> Response:
        return await service.predict(request, "mlflow", _mlflow_parse, _mlflow_encode)

    async def live(request: Request) -> Response:
        # live while the model is loaded or loading; a model that failed to load at start
        # never will, and the process is on its way out
        if service.live:
            return _json({"live": True})
        message = str(service.fatal)
        return _json({"live": False, "error_code": "not_live", "message": message}, 503)

    async def ready(request: Request) -> Response:
        holder = service.router.champion
        if holder.ready:
            return _json({"ready": True})
        if service.fatal is not None:
            message = str(service.fatal)
        else:
            why = f": {holder.last_error}" if holder.last_error else ""
            message = f"model not loaded yet{why}"
        return _json({"ready": False, "error_code": "not_ready", "message": message}, 503)

    async def server_metadata(request: Request) -> Response:
        from mloop import __version__

        return _json(
            {"name": "mloop", "version": __version__, "extensions": ["binary_tensor_data"]}
        )

    async def model_metadata(request: Request) -> Response:
        service.gate.check_metadata(request)
        slot = service.router.champion.slot
        model = slot.model
        service._check_name(model, request.path_params["name"], request.path_params.get("version"))
        doc = oip_v2.model_metadata(
            model.name,
            model.version,
            model.flavor,
            model.spec,
            model.has_proba,
            model.output_dtype,
            model.classes,
        )
        return _json(doc)

    async def model_ready(request: Request) -> Response:
        service.gate.check_metadata(request)
        slot = service.router.champion.slot
        service._check_name(
            slot.model, request.path_params["name"], request.path_params.get("version")
        )
        return _json({"name": slot.model.name, "ready": True})

    async def ping(request: Request) -> Response:
        if not service.router.champion.ready:
            raise ModelNotReadyError("the model is not loaded yet; retry shortly")
        return PlainTextResponse("\n")

    async def version(request: Request) -> Response:
        from mloop import __version__

        return PlainTextResponse(__version__)

    async def feedback(request: Request) -> Response:
        count = await service.record_feedback(request)
        return _json({"recorded": count})

    async def metrics(request: Request) -> Response:
        service.gate.check_metadata(request)
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        service.gate.check_metadata(request)
        holder = service.router.champion
        model = holder.slot.model if holder.ready else None
        return _json(openapi_document(model))

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    def admin_answer(doc: dict[str, Any]) -> Response:
        response = _json(doc)
        response.headers["x-mloop-worker"] = str(os.getpid())  # which worker answered
        return response

    async def admin_body(request: Request) -> dict[str, Any]:
        config = service.config
        return _json_body(await read_body(request, config.max_body_bytes, config.body_timeout_s))

    async def admin_reload(request: Request) -> Response:
        service.gate.check_admin(request)
        doc = await admin_body(request)
        actor, reason = _who_and_why(doc, request)
        unknown = [k for k in doc if k not in ("uri", "follow")]
        if unknown:
            raise InputSchemaError(unknown[0], "is not a reload field; use 'uri' or 'follow'")
        uri, follow = doc.get("uri"), doc.get("follow", False)
        if uri is not None and not isinstance(uri, str):
            raise InputSchemaError("uri", "must be a model URI or package path")
        if not isinstance(follow, bool) or (follow and uri is not None):
            raise InputSchemaError("follow", "must be true or false, and not given with 'uri'")
        return admin_answer(await service.reload(uri, follow=follow, actor=actor, reason=reason))

    async def admin_traffic(request: Request) -> Response:
        service.gate.check_admin(request)
        if request.method == "GET":
            return admin_answer(service.traffic_doc())
        doc = await admin_body(request)
        actor, reason = _who_and_why(doc, request)
        _traffic_from(doc, service.current_traffic())  # refuse a bad body before any lock
        changed = await service.change_traffic(
            lambda now: _traffic_from(doc, now), actor=actor, reason=reason
        )
        return admin_answer(changed)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    routes = [
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/admin/reload", admin_reload, methods=["POST"]),
        Route("/admin/traffic", admin_traffic, methods=["GET", "PUT"]),
    ]
    # The inference routes are also answered ahead of Starlette's middleware (fast_routes.py);
    # the Route entries above still give other methods their 405.
    fast = [
        FastRoute("/v2/models/{name}/infer", infer),
        FastRoute("/v2/models/{name}/versions/{version}/infer", infer),
        FastRoute("/invocations", invocations),
    ]
    app = ServingApp(
        routes=routes,
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
        fast_routes=fast,
    )
    app.state.service = service
    return app


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestParseError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestParseError("the body must be a JSON object")
    return doc


def _who_and_why(doc: dict[str, Any], request: Request) -> tuple[str, str | None]:
    """Take the optional ``actor`` and ``reason`` of an admin body (what the traffic history
    records; the actor defaults to the ``X-Mloop-Actor`` header, else "admin API")."""
    actor, reason = doc.pop("actor", None), doc.pop("reason", None)
    if actor is not None and not isinstance(actor, str):
        raise InputSchemaError("actor", "must be a string: who asks for the change")
    if reason is not None and not isinstance(reason, str):
        raise InputSchemaError("reason", "must be a string: why the change")
    actor = (actor or request.headers.get("x-mloop-actor") or "admin API").strip()[:255]
    return actor or "admin API", (reason or "").strip() or None


def _traffic_from(doc: dict[str, Any], current: TrafficSplit) -> TrafficSplit:
    """A partial update of the ``current`` split: ``{"canary": {"uri": ..., "percent": 10} |
    null, "shadow": {"uri": ...} | null}``; a key left out keeps what it had, null removes."""
    unknown = [k for k in doc if k not in ("canary", "shadow")]
    if unknown:
        raise InputSchemaError(unknown[0], "is not a traffic field; use 'canary' and 'shadow'")
    canary, shadow = doc.get("canary"), doc.get("shadow")
    canary_uri, percent, shadow_uri = current.canary_uri, current.canary_percent, current.shadow_uri
    if "canary" in doc and canary is None:
        canary_uri, percent = None, 0.0
    if "shadow" in doc and shadow is None:
        shadow_uri = None
    if canary is not None:
        if not isinstance(canary, dict) or not isinstance(canary.get("uri"), str):
            raise InputSchemaError("canary", "must be {'uri': ..., 'percent': 0-100} or null")
        pct = canary.get("percent")
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
            raise InputSchemaError("canary.percent", "must be a number within 0-100")
        canary_uri, percent = canary["uri"], float(pct)
    if shadow is not None:
        if not isinstance(shadow, dict) or not isinstance(shadow.get("uri"), str):
            raise InputSchemaError("shadow", "must be {'uri': ...} or null")
        shadow_uri = shadow["uri"]
    return TrafficSplit(canary_uri, percent, shadow_uri)
