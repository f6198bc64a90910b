"""The prediction service's behaviour, independent of routes: predict, log, count, administer.

:class:`PredictionService` owns the router (champion, canary, shadow holders), the metrics, the
token gate and the prediction and feedback logs. :mod:`mloop.serving.http.app` only maps URLs to its
methods. A prediction request is: token check, body read under the size limit, route pick,
protocol parse, signature check, micro-batched prediction, then (off the answer's path) the log
record and the shadow's copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mloop.errors import (
    InputSchemaError,
    MloopError,
    ModelLoadError,
    NotFoundError,
    PayloadTooLargeError,
    UnknownRequestError,
    ValidationError,
)
from mloop.serving.batching import BatchResult, MicroBatcher
from mloop.serving.deadlines import deadline
from mloop.serving.http.errors import (
    ClientClosedError,
    OverloadedError,
    RequestTimeoutError,
    error_response,
    headers_of,
    status_of,
)
from mloop.serving.http.security import TokenGate
from mloop.serving.logs.error_log import RequestErrorRecord, error_rows
from mloop.serving.logs.feedback import feedback_rows, parse_feedback
from mloop.serving.logs.prediction_log import (
    ParquetLog,
    PredictionRecord,
    prediction_blocks,
    prediction_rows,
)
from mloop.serving.logs.request_ids import RequestIds, load_key
from mloop.serving.logs.schema import log_schema
from mloop.serving.logs.served_ids import ServedIds
from mloop.serving.metrics import ServingMetrics
from mloop.serving.models.holder import ModelHolder, Slot
from mloop.serving.models.source import (
    ServedModel,
    load_failure,
    load_served_model,
    resolve_alias_version,
)
from mloop.serving.online_features import OnlineFeatures
from mloop.serving.presence import ServicePresence
from mloop.serving.returning_clients import ReturningClients
from mloop.serving.settings import ServingConfig, TrafficSplit
from mloop.serving.signature_check import Columns, check_columns, dtype_kind
from mloop.serving.traffic.admin_state import POLL_S, AdminState, SharedAdmin
from mloop.serving.traffic.routing import Router

__all__ = ["ParsedRequest", "PredictionService"]

log = logging.getLogger("mloop.serving")

RETURN_WINDOW_WAITS = 5
"""A client answered less than this many ``max_wait`` ago counts as on its way back."""

ParsedRequest = tuple[dict[str, Any], str | None, bool]
"""(columns, request id or None, whether probabilities are wanted)."""

Loader = Callable[[str], ServedModel]


class PredictionService:
    """Everything one worker process needs to answer prediction requests."""

    def __init__(self, config: ServingConfig, *, loader: Loader | None = None) -> None:
        self.config = config
        self.metrics = ServingMetrics()
        self.gate = TokenGate(
            config.token, config.admin_token, public_metadata=config.public_metadata
        )
        self._loader: Loader = loader or (
            lambda uri: load_served_model(
                uri, allow_nan=config.allow_nan, entity_keys=config.entity_keys
            )
        )
        self.online: OnlineFeatures | None = None
        if config.features:
            self.online = OnlineFeatures(
                config.features, config.entity_keys, repo_path=config.feature_repo
            )
        self.router = Router(self._holder(config.model_uri, "champion", follow=True))
        self.router.champion.on_swap = self._on_swap("champion")
        self.router.champion.on_first_failure = self._champion_failed
        self.fatal: ModelLoadError | None = None
        """Set when the champion could not be loaded at start: the service cannot serve."""
        self.on_fatal: Callable[[ModelLoadError], None] | None = None
        """Called once ``fatal`` is set (the server runner stops the process with it)."""
        self._background: set[asyncio.Task[Any]] = set()
        # admin changes reach every worker through the shared state (admin_state.py)
        start = config.traffic
        self.applied = AdminState(
            canary_uri=start.canary_uri,
            canary_percent=start.canary_percent,
            shadow_uri=start.shadow_uri,
        )
        """The admin state this worker serves."""
        self.admin = SharedAdmin.from_env(self.applied)
        self._apply_lock = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None
        self.presence: ServicePresence | None = None
        """Reports this worker to the project's metadata store (ADR 0026); set by start()."""
        # for requests that bring no id of their own; signed with a key every worker shares
        key = load_key(config.log_dir)
        self.ids = RequestIds(key)
        self.failed_ids = RequestIds(key, purpose=b"failed")  # never pass for answered ones
        self.served = ServedIds(
            self.ids, config.log_dir / "predictions" if config.log_dir is not None else None
        )
        self.arriving = 0  # requests received but not yet handed to a batcher
        self.in_progress = 0  # prediction requests inside predict() (bounded by max_queue)
        # clients just answered, likely back at once: batches wait for them (at most max_wait)
        self.returning = ReturningClients(RETURN_WINDOW_WAITS * config.max_wait_ms / 1000.0)
        self.predictions: ParquetLog | None = None
        self._log_schemas: dict[str, Any] = {}  # model digest -> its prediction-log schema
        self.feedback: ParquetLog | None = None
        self.errors: ParquetLog | None = None  # failed inference requests
        if config.log_dir is not None:
            root = config.log_dir
            self.predictions = ParquetLog(
                root / "predictions",
                lambda r: (r.model, r.timestamp, prediction_rows(r)),
                flush_rows=config.log_flush_rows,
                flush_interval_s=config.log_flush_interval_s,
                to_blocks=prediction_blocks,
            )
            self.feedback = ParquetLog(
                root / "feedback",
                feedback_rows,
                flush_rows=config.log_flush_rows,
                flush_interval_s=config.log_flush_interval_s,
            )
            self.errors = ParquetLog(
                root / "errors",
                error_rows,
                flush_rows=config.log_flush_rows,
                flush_interval_s=config.log_flush_interval_s,
            )

    # -- lifecycle ------------------------------------------------------------------------------
    def _holder(self, uri: str, role: str, *, follow: bool) -> ModelHolder:
        return ModelHolder(
            uri,
            load=self._loader,
            make_batcher=self._batcher,
            resolve_version=resolve_alias_version if follow else None,
            poll_interval_s=self.config.poll_interval_s if follow else 0.0,
            role=role,
        )

    def _batcher(self, model: ServedModel) -> MicroBatcher:
        name, version = model.name, model.version_label
        return MicroBatcher(
            lambda columns, want_proba: model.predict(columns, want_proba),
            max_batch_rows=self.config.max_batch_size,
            max_wait_s=self.config.max_wait_ms / 1000.0,
            on_batch=lambda rows: self.metrics.observe_batch(name, version, rows),
            arriving=self._coming,
        )

    def _coming(self) -> int:
        """Requests on their way: being read and checked, or due from clients just answered."""
        return self.arriving + self.returning.expected(time.monotonic())

    def _on_swap(self, role: str) -> Callable[[ServedModel | None, ServedModel], None]:
        def swapped(old: ServedModel | None, new: ServedModel) -> None:
            if old is not None:
                self.metrics.set_model(old.name, old.version_label, old.digest, role, False)
            self.metrics.set_model(new.name, new.version_label, new.digest, role, True)

        return swapped

    def _champion_failed(self, exc: BaseException) -> None:
        self.fatal = load_failure(self.config.model_uri, exc)
        if self.on_fatal is not None:
            self.on_fatal(self.fatal)
        else:
            log.error("%s", self.fatal)

    @property
    def live(self) -> bool:
        """True while the service can serve or is still loading its model."""
        return self.fatal is None

    async def start(self) -> None:
        for log_ in (self.predictions, self.feedback, self.errors):
            if log_ is not None:
                log_.start()
        self.router.champion.start()
        if self.config.wait_until_ready_s > 0:
            await self._wait_until_ready(self.config.wait_until_ready_s)
        traffic = self.config.traffic
        if traffic.canary_uri or traffic.shadow_uri:
            self._spawn(self._initial_traffic(traffic))
        if self.admin.directory is not None:
            self.admin.mark_applied(self.applied.generation)
            self._follower = asyncio.create_task(self._follow_admin())
        self.presence = ServicePresence.for_service(self)
        if self.presence is not None:
            self.presence.start()

    async def _wait_until_ready(self, timeout_s: float) -> None:
        """Hold startup until the champion is loaded (or ``timeout_s`` seconds passed, after
        which the service starts anyway and answers 503 until the model loads)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self.router.champion.ready and self.fatal is None:
            if asyncio.get_running_loop().time() > deadline:
                log.error(
                    "the model did not load within %.0f s; serving 503 until it does", timeout_s
                )
                return
            await asyncio.sleep(0.02)

    async def _initial_traffic(self, traffic: TrafficSplit) -> None:
        try:
            await self._route(traffic)
        except MloopError as exc:
            log.error("could not load the challenger models: %s", exc)

    async def stop(self) -> None:
        """Finish background work, then write every queued log record (SIGTERM ends here)."""
        if self.presence is not None:
            await self.presence.stop()
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self._background:
            await asyncio.wait(list(self._background), timeout=10)
        state = self.router.state
        for holder in (state.champion, state.canary, state.shadow):
            if holder is not None:
                await holder.close()
        for log_ in (self.predictions, self.feedback, self.errors):
            if log_ is not None:
                await asyncio.to_thread(log_.close)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- prediction -----------------------------------------------------------------------------
    async def predict(
        self,
        request: Request,
        protocol: str,
        parse: Callable[[bytes, Request, Slot], ParsedRequest],
        encode: Callable[[Slot, str, BatchResult, ParsedRequest], bytes],
        *,
        model_name: str | None = None,
        model_version: str | None = None,
    ) -> Response:
        """Answer one prediction request in ``protocol`` (``oip`` or ``mlflow``)."""
        started = time.perf_counter()
        slot: Slot | None = None
        route = "champion"
        limit = self.config.max_queue
        if limit and self.in_progress >= limit:
            return self._failed(OverloadedError(limit), protocol, None, route, started, request)
        self.in_progress += 1
        self.arriving += 1
        arriving = True
        # (host, port) of the connection, tracked only when there are batches to wait for
        client = request.scope.get("client") if self.config.max_batch_size > 1 else None
        if client is not None:
            client = tuple(client)
            self.returning.arrived(client)
        try:
            self.gate.check_inference(request)
            body = await read_body(request, self.config.max_body_bytes, self.config.body_timeout_s)
            holder, route = self.router.pick()
            slot = holder.slot
            self._check_name(slot.model, model_name, model_version)
            parsed = parse(body, request, slot)
            raw = parsed[0]
            if self.online is not None and self.online.needed(slot.model.spec, raw):
                raw = await asyncio.to_thread(self.online.enrich, slot.model.spec, raw)
            columns = check_columns(slot.model.spec, raw)
            rows = len(next(iter(columns.values())))
            self.arriving -= 1
            arriving = False
            try:
                result = await slot.batcher.submit(columns, rows, parsed[2])
            except MloopError:
                raise
            except (ValueError, TypeError, KeyError) as exc:
                raise ValidationError(f"the model refused this input: {exc}") from exc
            request_id = parsed[1] or request.headers.get("x-request-id")
            if request_id:
                self.served.remember(request_id)
            else:
                request_id = self.ids.next()
            payload = encode(slot, request_id, result, parsed)
        except Exception as exc:  # mloop errors map to 4xx/5xx; anything else (a bug) is a 500
            return self._failed(exc, protocol, slot, route, started, request)
        finally:
            self.in_progress -= 1
            if arriving:
                self.arriving -= 1
            if client is not None:
                self.returning.answered(client, time.monotonic())
        seconds = time.perf_counter() - started
        model = slot.model
        self.metrics.observe_request(
            model=model.name,
            version=model.version_label,
            route=route,
            protocol=protocol,
            status=200,
            seconds=seconds,
            rows=rows,
        )
        self._log(model, route, request_id, seconds, columns, result)
        shadow = self.router.shadow if route == "champion" else None
        if shadow is not None:
            self._spawn(self._shadow(shadow, columns, rows, request_id, parsed[2]))
        return Response(
            payload, media_type="application/json", headers={"x-request-id": request_id}
        )

    def _failed(
        self,
        exc: Exception,
        protocol: str,
        slot: Slot | None,
        route: str,
        started: float,
        request: Request | None = None,
    ) -> Response:
        status, code = status_of(exc)
        if isinstance(exc, ClientClosedError):  # nobody to answer, and not our failure
            self.metrics.observe_client_abort(protocol)
            log.info("client abort on a %s prediction: %s", protocol, exc)
            return error_response(status, code, str(exc))
        self.metrics.observe_error(code, protocol)
        if slot is not None:
            model = slot.model
            self.metrics.observe_request(
                model=model.name,
                version=model.version_label,
                route=route,
                protocol=protocol,
                status=status,
                seconds=time.perf_counter() - started,
                rows=0,
            )
        message = str(exc)
        if not isinstance(exc, MloopError):  # as the app's last-resort handler answers
            log.exception("unexpected error on a %s prediction", protocol, exc_info=exc)
            message = "internal error in mloop (a bug); see the server log"
        elif status >= 500 and not isinstance(exc, OverloadedError):  # shed load: counted only
            log.error("prediction failed: %s", exc)
        logged = str(exc) if isinstance(exc, MloopError) else f"{type(exc).__name__}: {exc}"
        self._log_failure(request, protocol, slot, route, started, status, code, logged)
        return error_response(status, code, message, headers_of(exc))

    def _log_failure(
        self,
        request: Request | None,
        protocol: str,
        slot: Slot | None,
        route: str,
        started: float,
        status: int,
        code: str,
        message: str,
    ) -> None:
        """Queue the failed request for the error log (monitoring's ``error_rate``): the
        version it was routed to, else the champion's (empty before the first load)."""
        if self.errors is None:
            return
        holder = self.router.champion
        if slot is None and holder.ready:
            slot = holder.slot
        if slot is not None:
            name, version = slot.model.name, slot.model.version_label
        else:
            name, version = _name_of_uri(holder.uri), ""
        request_id = (request.headers.get("x-request-id") if request is not None else None) or (
            self.failed_ids.next()
        )
        self.errors.put(
            RequestErrorRecord(
                model=name,
                version=version,
                route=route,
                protocol=protocol,
                request_id=request_id,
                timestamp=time.time(),
                status=status,
                error_code=code,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                message=message,
            )
        )

    @staticmethod
    def _check_name(model: ServedModel, name: str | None, version: str | None) -> None:
        if name is not None and name != model.name:
            raise NotFoundError(
                f"model {name!r} is not served here; this service serves {model.name!r}"
            )
        if version is not None and version not in (model.version, model.version_label):
            raise NotFoundError(
                f"version {version!r} of {model.name!r} is not served here; it serves "
                f"version {model.version_label}"
            )

    def _log(
        self,
        model: ServedModel,
        route: str,
        request_id: str,
        seconds: float,
        columns: Columns,
        result: BatchResult,
    ) -> None:
        if self.predictions is None:
            return
        schema = self._log_schemas.get(model.digest)
        if schema is None:
            schema = self._log_schemas[model.digest] = log_schema(
                model.spec.names,
                dict(model.spec.kinds),
                classes=model.classes,
                output_kind=dtype_kind(model.output_dtype) if model.output_dtype else "float",
                has_proba=model.has_proba,
            )
        self.predictions.put(
            PredictionRecord(
                model=model.name,
                version=model.version_label,
                route=route,
                request_id=request_id,
                timestamp=time.time(),
                latency_ms=seconds * 1000.0,
                inputs=columns,
                predictions=result.predictions,
                probabilities=result.probabilities,
                schema=schema,
            )
        )

    async def _shadow(
        self, holder: ModelHolder, columns: Columns, rows: int, request_id: str, proba: bool
    ) -> None:
        started = time.perf_counter()
        try:
            slot = holder.slot
            checked = check_columns(slot.model.spec, columns)
            result = await slot.batcher.submit(checked, rows, proba)
        except Exception as exc:  # a shadow never affects the answer; it is only counted
            self.metrics.observe_error(status_of(exc)[1], "shadow")
            return
        seconds = time.perf_counter() - started
        model = slot.model
        self.metrics.observe_request(
            model=model.name,
            version=model.version_label,
            route="shadow",
            protocol="shadow",
            status=200,
            seconds=seconds,
            rows=rows,
        )
        self._log(model, "shadow", request_id, seconds, checked, result)

    # -- feedback and admin ---------------------------------------------------------------------
    async def record_feedback(self, request: Request) -> int:
        """Queue the labels of a ``/feedback`` body; returns how many labels were recorded."""
        self.gate.check_inference(request)
        body = await read_body(request, self.config.max_body_bytes, self.config.body_timeout_s)
        name = self.router.champion.slot.model.name
        records = parse_feedback(body, name)
        unknown = await asyncio.to_thread(self.served.unknown, [r.request_id for r in records])
        if unknown:
            raise UnknownRequestError(unknown)
        if self.feedback is not None:
            for record in records:
                self.feedback.put(record)
        return sum(len(r.labels) for r in records)

    async def reload(
        self,
        uri: str | None = None,
        *,
        follow: bool = False,
        actor: str = "admin API",
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Reload the champion on every worker: ``uri`` pins it to that URI (its alias, if
        the service follows one, is no longer followed), ``follow`` goes back to the URI the
        service was started with and follows it again; neither reloads what is served now."""
        async with self.admin.locked():
            current = self.admin.read()
            pin = current.champion_uri
            if follow or uri == self.config.model_uri:
                pin = None
            elif uri is not None:
                pin = uri
            new = current.next(champion_uri=pin, reload_seq=current.reload_seq + 1)
            await self._apply(new)  # a URI that does not load fails here and changes nothing
            self.admin.publish(new)
        if self.presence is not None:
            await self.presence.report(("follow" if follow else "reload", actor, reason))
        applied = await self.admin.wait_applied(new.generation)
        model = self.router.champion.slot.model
        return {
            "model": model.name,
            "version": model.version_label,
            "digest": model.digest,
            **self._pin_doc(),
            "applied": applied,
        }

    def current_traffic(self) -> TrafficSplit:
        """The split in force now (what a partial admin change starts from)."""
        state = self.admin.read()
        return TrafficSplit(state.canary_uri, state.canary_percent, state.shadow_uri)

    async def change_traffic(
        self,
        update: Callable[[TrafficSplit], TrafficSplit],
        *,
        actor: str = "admin API",
        reason: str | None = None,
    ) -> dict[str, object]:
        """Apply ``update(current split)`` on every worker; returns the new traffic document
        with how many workers applied it. ``actor`` and ``reason`` go to the traffic history
        of the metadata store (when the service announces itself there)."""
        async with self.admin.locked():
            current = self.admin.read()
            traffic = update(
                TrafficSplit(current.canary_uri, current.canary_percent, current.shadow_uri)
            )
            if not 0.0 <= traffic.canary_percent <= 100.0:
                raise InputSchemaError("canary.percent", "must be within 0-100")
            new = current.next(
                canary_uri=traffic.canary_uri,
                canary_percent=traffic.canary_percent if traffic.canary_uri else 0.0,
                shadow_uri=traffic.shadow_uri,
            )
            if replace(new, generation=current.generation) == current:
                new = current  # nothing changes: no new generation for the workers to apply
            await self._apply(new)  # loads the challengers first; a bad URI changes nothing
            self.admin.publish(new)
        if self.presence is not None and new is not current:
            await self.presence.report(("traffic", actor, reason))
        applied = await self.admin.wait_applied(new.generation)
        return {**self.traffic_doc(), "applied": applied}

    async def set_traffic(self, traffic: TrafficSplit) -> dict[str, object]:
        """Replace the whole split on every worker (see :meth:`change_traffic`)."""
        return await self.change_traffic(lambda _: traffic)

    def traffic_doc(self) -> dict[str, object]:
        """``GET /admin/traffic``: the routes this worker serves, the admin generation it
        applied, the champion's pin, and every worker's applied generation."""
        doc = self.router.state.describe()
        return {
            **doc,
            **self._pin_doc(),
            "generation": self.applied.generation,
            "workers": self.admin.applied() or None,
        }

    def _pin_doc(self) -> dict[str, object]:
        uri = self.config.model_uri
        return {
            "pinned": self.applied.champion_uri is not None,
            "follows": uri if "@" in uri and uri.startswith("models:/") else None,
        }

    async def _follow_admin(self) -> None:
        """Apply each newer admin state a sibling worker published (every ``POLL_S`` s)."""
        while True:
            await asyncio.sleep(POLL_S)
            try:
                if not self.admin.changed():
                    continue
                state = await asyncio.to_thread(self.admin.read)
            except (OSError, ValueError, TypeError) as exc:  # half-visible file: next poll
                log.warning("reading the shared admin state failed: %s", exc)
                continue
            if state.generation <= self.applied.generation:
                continue
            try:
                await self._apply(state)
            except Exception as exc:  # keep serving what we have; the admin call reports it
                log.error("applying admin change %d failed: %s", state.generation, exc)
                self.admin.mark_applied(state.generation, str(exc))

    async def _apply(self, state: AdminState) -> None:
        """Serve ``state`` in this worker: reload the champion when its URI or reload count
        moved, then switch the challengers."""
        async with self._apply_lock:
            if state.generation <= self.applied.generation:
                return
            holder = self.router.champion
            target = state.champion_uri or self.config.model_uri
            if target != holder.uri or state.reload_seq != self.applied.reload_seq:
                await holder.reload(target)
            holder.pinned = state.champion_uri is not None
            await self._route(
                TrafficSplit(state.canary_uri, state.canary_percent, state.shadow_uri)
            )
            self.applied = state
            self.admin.mark_applied(state.generation)

    async def _route(self, traffic: TrafficSplit) -> None:
        """Load the new challengers, then switch traffic to them in one step. A challenger
        whose URI is unchanged keeps its loaded model (a canary's share can change alone)."""
        state = self.router.state
        canary = await self._challenger(state.canary, traffic.canary_uri, "canary")
        shadow = await self._challenger(state.shadow, traffic.shadow_uri, "shadow")
        old = self.router.replace(
            canary=canary, canary_percent=traffic.canary_percent, shadow=shadow
        )
        for holder, role in ((old.canary, "canary"), (old.shadow, "shadow")):
            if holder is not None and holder is not canary and holder is not shadow:
                if holder.ready:
                    m = holder.slot.model
                    self.metrics.set_model(m.name, m.version_label, m.digest, role, False)
                await holder.close()

    async def _challenger(
        self, current: ModelHolder | None, uri: str | None, role: str
    ) -> ModelHolder | None:
        if not uri:
            return None
        if current is not None and current.uri == uri:
            return current
        holder = self._holder(uri, role, follow=False)
        holder.on_swap = self._on_swap(role)
        await holder.reload()
        return holder


def _name_of_uri(uri: str) -> str:
    """The model name a URI serves before it is loaded: ``models:/NAME@alias`` or
    ``models:/NAME/3`` gives NAME, a package folder its folder name."""
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :]
        return rest.split("@", 1)[0].split("/", 1)[0]
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


DRAIN_FACTOR = 2
"""A body over the limit is still read (and dropped) up to this many times the limit, so that a
client which sends its whole body before reading (stdlib urllib) sees the 413, not a reset."""

DRAIN_TIMEOUT_S = 5.0
"""Longest time spent draining a refused body (s)."""


async def read_body(request: Request, limit: int, timeout_s: float = 0.0) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (checked before reading when
    the client declares its length), 408 when it takes longer than ``timeout_s`` seconds to
    arrive (0: no limit), and ``ClientClosedError`` when the client goes away mid-body."""
    declared = request.headers.get("content-length")
    chunks = []
    size = 0
    stream = request.stream()
    try:
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _drain(stream, DRAIN_FACTOR * limit)
            raise PayloadTooLargeError(int(declared), limit)
        async with deadline(timeout_s if timeout_s > 0 else None):
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
        if size > limit:
            await _drain(stream, DRAIN_FACTOR * limit - size)
            raise PayloadTooLargeError(size, limit)
    except TimeoutError:
        raise RequestTimeoutError(timeout_s) from None
    except ClientDisconnect:
        raise ClientClosedError(
            f"the client closed the connection after {size} bytes of its body"
        ) from None
    return b"".join(chunks)


async def _drain(stream: Any, budget: int) -> None:
    """Read and drop up to ``budget`` more body bytes (within ``DRAIN_TIMEOUT_S``)."""
    if budget <= 0:
        return
    try:
        async with deadline(DRAIN_TIMEOUT_S):
            async for chunk in stream:
                budget -= len(chunk)
                if budget <= 0:
                    return
    except (TimeoutError, ClientDisconnect):
        return
