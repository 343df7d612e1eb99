"""The inference server: one plain ASGI app, run by uvicorn (uvloop, httptools).

Routes::

    POST /predict                                   for people (protocols/predict.py)
    POST /invocations, GET /ping                    MLflow scoring protocol (scoring.py)
    GET  /v2, /v2/health/live, /v2/health/ready     Open Inference Protocol v2 (oip.py)
    GET  /v2/models/{m}[/versions/{v}][/ready]
    POST /v2/models/{m}[/versions/{v}]/infer
    POST /feedback                                  labels for earlier requests
    GET  /health (liveness), /ready (readiness), /metrics (Prometheus), /version
    GET  /traffic, POST /traffic                    the live split (`serve --traffic`)

Why not FastAPI: the request path is the product here. A dict lookup picks the route, the
body is read straight from ASGI messages, JSON is orjson, and the response is two ASGI
messages, so a request costs tens of microseconds of server code on top of uvicorn and
the model. Every request gets an id (`x-request-id`, honoured when the client sends one),
is counted in `/metrics`, and is answered within `request_timeout_s` or with a 504.

With a traffic file (`ServeConfig.traffic`), the variants are the served models and a
`TrafficController` (`traffic/`) picks the one answering each routed request: every
prediction route asks it, the answer carries `x-slipway-variant` (and `"variant"` in
`/predict`'s body; the MLflow and OIP bodies stay exactly theirs), and the answer is
counted for the strategy, mirrored to a shadow, and remembered for `/feedback`.
`POST /traffic` changes the split; it needs `Authorization: Bearer $SLIPWAY_TRAFFIC_TOKEN`
when that variable is set for the server.

Lifecycle: the server listens at once; the models load and warm up in the background, and
`/ready` answers 200 only when all are loaded (503 before). On SIGTERM, `/ready` turns 503
first, the server keeps answering for `drain_seconds` so load balancers notice, then stops
accepting connections, lets requests in flight finish and exits 0 (`run`). A model that
fails to load at startup stops the server with exit code 1.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from slipway._version import __version__
from slipway.errors import (
    BadRequest,
    EndpointNotFound,
    RequestTooLarge,
    ResourceDoesNotExist,
    SchemaEnforcementError,
    ServerUnavailable,
    SlipwayError,
    Unauthenticated,
)
from slipway.serving.config import ServeConfig
from slipway.serving.metrics import ServingMetrics, mark_worker_dead, multiprocess_mode
from slipway.serving.model import ModelFailed, Prediction, ServedModel
from slipway.serving.protocols import (
    RequestTimedOut,
    UnsupportedMediaType,
    dumps,
    loads_json,
    oip,
    predict,
    scoring,
)
from slipway.serving.protocols.oip import error_body as oip_error_body
from slipway.serving.registry import ModelRegistry, sources_of

if TYPE_CHECKING:
    from slipway.serving.traffic.shadow import CopyInput

logger = logging.getLogger("slipway.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
STARTUP_FAILED_EXIT = 3  # a worker whose models did not load
TRAFFIC_TOKEN_ENV = "SLIPWAY_TRAFFIC_TOKEN"
VARIANT_HEADER = b"x-slipway-variant"

# What the supervisor of `--workers N` sends a worker for the SIGTERM / SIGINT it received.
# Workers ignore SIGTERM and SIGINT themselves: a signal to the whole process group (a
# terminal's Ctrl-C, `kill -TERM -<pgid>`, some process managers) would otherwise reach a
# worker twice, directly and forwarded, and a second signal means "force the exit": no
# drain, no shutdown, and the prediction log's last buffer lost.
WORKER_SIGNALS = {signal.SIGTERM: signal.SIGUSR1, signal.SIGINT: signal.SIGUSR2}

_MODEL_PATH = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?/?$")
_REQUEST_ID_OK = re.compile(r"^[\x21-\x7e]{1,200}$")


class ClientDisconnected(Exception):
    """The client went away before sending its whole body."""


class Request:
    """What a handler needs from one HTTP request (headers read once, body on demand)."""

    __slots__ = (
        "content_length",
        "content_type",
        "header_length",
        "headers",
        "method",
        "mirror",
        "model",
        "model_seconds",
        "path",
        "receive",
        "request_id",
        "routed",
        "started",
        "variant",
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.receive = receive
        self.headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.content_type: str | None = None
        self.content_length: int | None = None
        self.header_length: int | None = None
        self.model: ServedModel | None = None  # once known, for metrics of failed requests
        self.variant: str | None = None  # the traffic variant answering
        self.routed = False  # chosen by the traffic strategy (not asked for by name)
        self.mirror: CopyInput | None = None  # the shadow's input, for a shadow copy
        self.model_seconds = 0.0  # the model call's share of the request
        request_id = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                self.content_type = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = int(value) if value.isdigit() else -1
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"inference-header-content-length":
                self.header_length = int(value) if value.isdigit() else -1
        if request_id is None or not _REQUEST_ID_OK.match(request_id):
            request_id = os.urandom(16).hex()
        self.request_id: str = request_id

    async def body(self, limit: int) -> bytes:
        """The whole body; RequestTooLarge past `limit` bytes (declared or streamed)."""
        if self.content_length is not None:
            if self.content_length < 0:
                raise BadRequest("Content-Length is not a number.")
            if self.content_length > limit:
                raise _too_large(limit)
        chunks = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is larger than this server's limit of {limit} bytes "
        "(--max-body-mb); send fewer rows per request."
    )


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    request_id: str,
    content_type: bytes = JSON,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
    ]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServingApp:
    """The ASGI app of `slipway serve` (one per worker process)."""

    def __init__(self, config: ServeConfig, *, client: Any = None) -> None:
        self.config = config
        self.metrics = ServingMetrics()
        self.models = ModelRegistry(config, self.metrics, client=client)
        self.traffic: Any = None  # a TrafficController with a traffic file
        if config.traffic is not None:
            from slipway.serving.traffic.config import TrafficConfig
            from slipway.serving.traffic.controller import TrafficController

            self.metrics.enable_traffic()
            self.traffic = TrafficController(
                TrafficConfig.from_dict(config.traffic),
                self.models,
                self.metrics,
                on_shadow_answer=self._log_shadow,
            )
        self._experiment = self.traffic.name if self.traffic is not None else None
        self.prediction_log: Any = None
        self.draining = False
        self.load_error: str | None = None
        self.on_fatal: Callable[[], None] | None = None  # set by run(): stop the server
        self.freeze_gc = False  # set by serve_in_process(): this process is the server
        self._loading: asyncio.Task[None] | None = None
        self._timeout = config.request_timeout_s
        self._limit = config.max_body_bytes
        self._routes: dict[tuple[str, str], Callable[[Request, Send], Awaitable[None]]] = {
            ("POST", "/invocations"): self._invocations,
            ("POST", "/predict"): self._predict,
            ("POST", "/feedback"): self._feedback,
            ("GET", "/ping"): self._ping,
            ("GET", "/health"): self._health,
            ("GET", "/ready"): self._ready,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/version"): self._version,
            ("GET", "/v2"): self._v2_server,
            ("GET", "/v2/"): self._v2_server,
            ("GET", "/v2/health/live"): self._v2_live,
            ("GET", "/v2/health/ready"): self._v2_ready,
            ("GET", "/traffic"): self._traffic_status,
            ("POST", "/traffic"): self._traffic_change,
        }
        self._paths = {path for _, path in self._routes}

    @property
    def ready(self) -> bool:
        """Every model loaded and warmed up, and not draining."""
        return self.models.loaded and not self.draining

    def start_draining(self) -> None:
        """Fail readiness from now on (SIGTERM); requests are still answered."""
        if not self.draining:
            logger.info("Draining: /ready now answers 503; finishing requests in flight")
        self.draining = True

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            request = Request(scope, receive)
            handler = self._routes.get((request.method, request.path))
            if handler is not None:
                await handler(request, send)
            else:
                await self._dynamic(request, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("slipway serve could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Open the prediction log and start loading the models in the background."""
        if self.config.prediction_log:
            self.prediction_log = await asyncio.to_thread(self._open_prediction_log)
        if self.traffic is not None:
            await self.traffic.start()
        self._loading = asyncio.get_running_loop().create_task(self._load_models())

    def _open_prediction_log(self) -> Any:
        from slipway.serving.predlog import PredictionLog, prediction_log_uri

        tracking_uri = self.config.tracking_uri
        uri = prediction_log_uri(tracking_uri)
        log = PredictionLog(uri, sample_rate=self.config.log_sample_rate, tracking_uri=tracking_uri)
        logger.info("Logging predictions to %s (sample rate %s)", uri, log.sample_rate)
        return log

    async def _load_models(self) -> None:
        try:
            await self.models.start()
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
            logger.error("Could not load the models to serve: %s", self.load_error, exc_info=exc)
            if self.on_fatal is not None:
                self.on_fatal()
            return
        if self.freeze_gc:
            # The libraries and models loaded by now are a million objects that live as
            # long as the process. Without this, every full collection walks them all,
            # stopping every thread for ~0.2 s; the prediction log's buffer, which lives
            # for seconds, triggers one every half minute or so.
            gc.freeze()
        names = ", ".join(f"{m.name} v{m.version}" for m in self.models.current())
        logger.info("Ready: serving %s", names)

    async def shutdown(self) -> None:
        """Finish queued predictions, stop model threads, flush the prediction log."""
        self.draining = True
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            try:
                await self._loading
            except (asyncio.CancelledError, Exception):
                pass
        if self.traffic is not None:
            await self.traffic.close()
        await self.models.close()
        if self.prediction_log is not None:
            await asyncio.to_thread(self.prediction_log.close)
        if multiprocess_mode():
            mark_worker_dead(os.getpid())

    # ------------------------------------------------------------------ predictions
    async def _run_model(
        self,
        model: ServedModel,
        payload: Any,
        params: dict[str, Any] | None,
        proba: bool,
        request: Request | None = None,
    ) -> Prediction:
        started = time.perf_counter()
        try:
            prediction = await model.predict(
                payload, params=params, proba=proba, timeout=self._timeout
            )
            if request is not None:
                request.model_seconds = time.perf_counter() - started
            return prediction
        except TimeoutError:
            raise RequestTimedOut(
                f"The prediction took longer than the server's request timeout "
                f"({self._timeout:g} s)."
            ) from None

    def _log_prediction(
        self,
        request_id: str,
        model: ServedModel,
        prediction: Prediction,
        shadow: bool = False,
    ) -> None:
        log = self.prediction_log
        if log is None:
            return
        try:
            outputs: Any = prediction.predictions
            if prediction.probabilities is not None:
                outputs = {
                    "prediction": prediction.predictions,
                    "probability": model.probability_columns(prediction.probabilities),
                }
            log.record(
                request_id=request_id,
                model_name=model.name,
                model_version=model.version,
                inputs=prediction.logged_inputs(),
                outputs=outputs,
                variant=model.variant or None,
                experiment=self._experiment if model.variant else None,
                shadow=shadow,
            )
        except Exception:  # the log never fails a request
            logger.debug("Could not log prediction %s", request_id, exc_info=True)

    def _log_shadow(
        self, request_id: str, model: ServedModel, prediction: Prediction, variant: str
    ) -> None:
        """Log a shadow's answer to a copy, marked `shadow` (no client received it)."""
        self._log_prediction(request_id, model, prediction, shadow=True)

    # ------------------------------------------------------------------ traffic
    def _route(self, request: Request, doc: Any) -> ServedModel:
        """The variant the traffic strategy picks for a routed request (by its key in ab)."""
        traffic = self.traffic
        key = traffic.key_of(request.headers, doc) if traffic.sticky_key is not None else None
        variant = traffic.choose(key)
        request.variant = variant
        request.routed = True
        model = request.model = self.models.get(variant)
        return model

    def _named(self, request: Request, name: str | None, version: str | None) -> ServedModel:
        """The model a request names: routed when the name is the experiment's (traffic)."""
        traffic = self.traffic
        if traffic is None or not traffic.routes(name):
            model = request.model = self.models.get(name, version)
            if traffic is not None:
                request.variant = model.variant or None
            return model
        if version is not None:
            raise BadRequest(
                f"{name or 'This server'} routes between the variants "
                f"{', '.join(traffic.variants)}: name a variant to ask for a version."
            )
        return self._route(request, None)

    def _variant_header(self, request: Request) -> list[tuple[bytes, bytes]] | None:
        if request.variant is None:
            return None
        return [(VARIANT_HEADER, request.variant.encode("latin-1"))]

    def _traffic_done(
        self, request: Request, status: int, seconds: float, prediction: Prediction | None
    ) -> None:
        """Count a routed answer for the strategy; copy it to the shadow when it succeeded."""
        traffic = self.traffic
        predictions = None if prediction is None else prediction.predictions
        traffic.done(request.variant, status, seconds, request.request_id, predictions)
        if request.mirror is not None and prediction is not None:
            traffic.mirror(
                request.variant,
                request.request_id,
                request.mirror,
                predictions,
                request.model_seconds,
            )

    async def _invocations(self, request: Request, send: Send) -> None:
        await self._serve_prediction(request, send, "invocations", self._score)

    async def _score(self, request: Request) -> tuple[bytes, ServedModel, Prediction]:
        body = await request.body(self._limit)
        if self.traffic is None:
            model = request.model = self.models.default()
            payload, params = scoring.parse(body, request.content_type, model.reader)
        elif scoring.media_type(request.content_type) == scoring.JSON:
            doc = loads_json(body)
            model = self._route(request, doc)
            payload, params = scoring.parse_json(doc)
        else:
            model = self._route(request, None)
            payload, params = scoring.parse(body, request.content_type, model.reader)
        prediction = await self._run_model(model, payload, params, False, request)
        if request.routed and self.traffic.shadow is not None:
            request.mirror = lambda m: (payload, params, False)
        return scoring.render(prediction), model, prediction

    async def _predict(self, request: Request, send: Send) -> None:
        await self._serve_prediction(request, send, "predict", self._predict_people)

    async def _predict_people(self, request: Request) -> tuple[bytes, ServedModel, Prediction]:
        body = await request.body(self._limit)
        if self.traffic is None:
            parsed = predict.parse(body)
            if parsed.model is None and len(self.models.names()) > 1:
                raise BadRequest(
                    f'Several models are served here: say which with "model" '
                    f"(one of {sorted(self.models.names())})."
                )
            model = request.model = self.models.get(parsed.model, parsed.version)
        else:
            doc = loads_json(body)
            parsed = predict.parse_doc(doc)
            if self.traffic.routes(parsed.model) and parsed.version is None:
                model = self._route(request, doc)
            else:
                model = self._named(request, parsed.model, parsed.version)
        payload, params, proba = parsed.payload, parsed.params, parsed.probabilities
        prediction = await self._run_model(model, payload, params, proba, request)
        if request.routed and self.traffic.shadow is not None:
            request.mirror = lambda m: (payload, params, proba)
        answer = predict.render(prediction, model, request.request_id, request.variant)
        return answer, model, prediction

    async def _serve_prediction(
        self,
        request: Request,
        send: Send,
        endpoint: str,
        handle: Callable[[Request], Awaitable[tuple[bytes, ServedModel, Prediction]]],
    ) -> None:
        """Run a prediction handler; answer its body or its error in the endpoint's format."""
        metrics = self.metrics
        metrics.in_flight.inc()
        try:
            try:
                body, model, prediction = await handle(request)
            except ClientDisconnected:
                return
            except Exception as exc:
                status, body, content_type = self._error(exc, request, endpoint, v2=False)
                await _respond(
                    send,
                    status,
                    body,
                    request.request_id,
                    content_type,
                    self._variant_header(request),
                )
                self._count(request, endpoint, status)
                return
            await _respond(send, 200, body, request.request_id, extra=self._variant_header(request))
            seconds = time.perf_counter() - request.started
            metrics.request_done(endpoint, 200, model.name, model.version, seconds, model.variant)
            self._log_prediction(request.request_id, model, prediction)
            if request.routed:
                self._traffic_done(request, 200, seconds, prediction)
        finally:
            metrics.in_flight.dec()

    def _count(self, request: Request, endpoint: str, status: int) -> None:
        model = request.model
        seconds = time.perf_counter() - request.started
        self.metrics.request_done(
            endpoint,
            status,
            model.name if model is not None else "",
            model.version if model is not None else "",
            seconds,
            model.variant if model is not None else "",
        )
        if request.routed:
            self._traffic_done(request, status, seconds, None)

    def _error(
        self, exc: BaseException, request: Request, endpoint: str, *, v2: bool
    ) -> tuple[int, bytes, bytes]:
        """(status, body, content type) answering `exc` in the endpoint's protocol."""
        rid = request.request_id
        problems: list[str] | None = None
        if isinstance(exc, SchemaEnforcementError):
            status, code, kind = (400 if v2 else 422), exc.error_code, "schema"
            message, problems = exc.message, exc.problems
        elif isinstance(exc, ModelFailed):
            status, code, kind = 500, exc.error_code, "model_error"
            message = f"{exc.message}; see the server log for request {rid}."
            logger.error("Request %s: %s", rid, exc.message, exc_info=exc.__cause__ or exc)
        elif isinstance(exc, SlipwayError) and (
            exc.http_status < 500 or isinstance(exc, (RequestTimedOut, ServerUnavailable))
        ):
            status, code, message = exc.http_status, exc.error_code, exc.message
            kind = _ERROR_KINDS.get(type(exc), _kind_of(status))
        else:
            status, code, kind = 500, "INTERNAL_ERROR", "server_error"
            message = (
                f"The server failed on this request ({type(exc).__name__}); see the server "
                f"log for request {rid}."
            )
            logger.error("Request %s failed", rid, exc_info=exc)
        model = request.model
        self.metrics.error(
            endpoint, kind, model.name if model else "", model.variant if model else ""
        )
        if v2:
            return status, oip_error_body(message), JSON
        if status == 415 and endpoint == "invocations":
            return status, message.encode("utf-8"), TEXT
        extra = {"problems": problems} if problems is not None else {}
        return status, scoring.error_body(status, code, message, rid, **extra), JSON

    # ------------------------------------------------------------------ OIP
    async def _dynamic(self, request: Request, send: Send) -> None:
        match = _MODEL_PATH.match(request.path)
        if match is None:
            await self._not_found(request, send)
            return
        name, version, action = match.group(1), match.group(2), match.group(3)
        if action == "/infer":
            if request.method != "POST":
                await self._wrong_method(request, send, "POST")
                return
            await self._v2_infer(request, send, name, version)
            return
        if request.method != "GET":
            await self._wrong_method(request, send, "GET")
            return
        lookup = name
        if self.traffic is not None and self.traffic.routes(name) and version is None:
            lookup = self.traffic.primary  # a routed name describes itself as the primary
        try:
            model = self.models.get(lookup, version)
        except Exception as exc:
            status, body, content_type = self._error(exc, request, "v2_model", v2=True)
            await _respond(send, status, body, request.request_id, content_type)
            return
        if action == "/ready":
            ready = not self.draining
            body = dumps({"name": name, "ready": ready})
            await _respond(send, 200 if ready else 503, body, request.request_id)
            return
        body = oip.model_metadata(model, self.models.versions(lookup))
        await _respond(send, 200, body, request.request_id)

    async def _v2_infer(self, request: Request, send: Send, name: str, version: str | None) -> None:
        metrics = self.metrics
        metrics.in_flight.inc()
        try:
            try:
                traffic = self.traffic
                routed = traffic is not None and traffic.routes(name)
                if not routed:
                    self.models.get(name, version)  # an unknown model is a 404, whatever the body
                elif version is not None:
                    self._named(request, name, version)  # says why there is no version here
                body = await request.body(self._limit)
                if request.header_length is not None and request.header_length < 0:
                    raise BadRequest("Inference-Header-Content-Length is not a number")
                infer = oip.parse_infer(body, request.header_length)
                if routed:
                    model = self._route(request, {"parameters": infer.parameters})
                else:
                    # Looked up after the last await: an alias swap may have happened while
                    # the body arrived, and the old version may be retiring.
                    model = self._named(request, name, version)
                payload = oip.to_payload(infer, model)
                proba = oip.wants_probabilities(infer)
                prediction = await self._run_model(model, payload, None, proba, request)
                outputs = oip.output_tensors(infer, model, prediction)
                answer, header_length = oip.infer_response(infer, model, outputs)
                if request.routed and self.traffic.shadow is not None:
                    request.mirror = lambda m: (oip.to_payload(infer, m), None, proba)
            except ClientDisconnected:
                return
            except Exception as exc:
                status, answer, content_type = self._error(exc, request, "v2_infer", v2=True)
                await _respond(
                    send,
                    status,
                    answer,
                    request.request_id,
                    content_type,
                    self._variant_header(request),
                )
                self._count(request, "v2_infer", status)
                return
            extra = self._variant_header(request) or []
            if header_length is None:
                await _respond(send, 200, answer, request.request_id, extra=extra)
            else:
                length = (b"inference-header-content-length", str(header_length).encode())
                await _respond(
                    send,
                    200,
                    answer,
                    request.request_id,
                    b"application/octet-stream",
                    [length, *extra],
                )
            seconds = time.perf_counter() - request.started
            metrics.request_done("v2_infer", 200, model.name, model.version, seconds, model.variant)
            self._log_prediction(request.request_id, model, prediction)
            if request.routed:
                self._traffic_done(request, 200, seconds, prediction)
        finally:
            metrics.in_flight.dec()

    async def _v2_server(self, request: Request, send: Send) -> None:
        await _respond(send, 200, oip.server_metadata(), request.request_id)

    async def _v2_live(self, request: Request, send: Send) -> None:
        await _respond(send, 200, b'{"live":true}', request.request_id)

    async def _v2_ready(self, request: Request, send: Send) -> None:
        ready = self.ready
        body = b'{"ready":true}' if ready else b'{"ready":false}'
        await _respond(send, 200 if ready else 503, body, request.request_id)

    # ------------------------------------------------------------------ operations
    async def _health(self, request: Request, send: Send) -> None:
        body = dumps({"status": "ok", "ready": self.ready, "pid": os.getpid()})
        await _respond(send, 200, body, request.request_id)

    async def _ready(self, request: Request, send: Send) -> None:
        if self.ready:
            body = dumps(
                {
                    "ready": True,
                    "models": [
                        {"name": m.name, "version": m.version, **_variant_of(m)}
                        for m in self.models.current()
                    ],
                }
            )
            await _respond(send, 200, body, request.request_id)
            return
        if self.draining:
            reason = "draining: the server is shutting down"
        elif self.load_error:
            reason = f"the models failed to load: {self.load_error}"
        else:
            reason = "loading the models"
        await _respond(send, 503, dumps({"ready": False, "reason": reason}), request.request_id)

    async def _ping(self, request: Request, send: Send) -> None:
        # mlflow's /ping: 200 once the model is loaded.
        await _respond(send, 200 if self.ready else 503, b"\n", request.request_id)

    async def _metrics(self, request: Request, send: Send) -> None:
        body, content_type = await asyncio.to_thread(self.metrics.render)
        await _respond(send, 200, body, request.request_id, content_type.encode())

    async def _version(self, request: Request, send: Send) -> None:
        models = [
            {
                "name": m.name,
                "version": m.version,
                "flavor": m.flavor,
                "source": m.source,
                "batching": m.batcher.enabled,
                **_variant_of(m),
            }
            for m in self.models.served()
        ]
        body = dumps({"slipway": __version__, "models": models})
        await _respond(send, 200, body, request.request_id)

    async def _feedback(self, request: Request, send: Send) -> None:
        try:
            if self.prediction_log is None:
                raise EndpointNotFound(
                    "Feedback needs the prediction log, and this server runs without it "
                    "(--no-prediction-log)."
                )
            doc = loads_json(await request.body(self._limit))
            if isinstance(doc, dict) and "records" in doc:
                records = doc["records"]
            elif isinstance(doc, dict):
                records = [doc]
            else:
                raise BadRequest('Send {"request_id": ..., "label": ...} or {"records": [...]}.')
            accepted = await asyncio.to_thread(self.prediction_log.record_feedback, records)
            if self.traffic is not None:
                self.traffic.feedback(records)
        except ClientDisconnected:
            return
        except Exception as exc:
            status, body, content_type = self._error(exc, request, "feedback", v2=False)
            await _respond(send, status, body, request.request_id, content_type)
            self.metrics.request_done(
                "feedback", status, "", "", time.perf_counter() - request.started
            )
            return
        await _respond(send, 200, dumps({"accepted": accepted}), request.request_id)
        self.metrics.request_done("feedback", 200, "", "", time.perf_counter() - request.started)

    async def _traffic_status(self, request: Request, send: Send) -> None:
        try:
            traffic = self._traffic_or_404()
            body = dumps(await traffic.status())
        except Exception as exc:
            status, body, content_type = self._error(exc, request, "traffic", v2=False)
            await _respond(send, status, body, request.request_id, content_type)
            return
        await _respond(send, 200, body, request.request_id)

    async def _traffic_change(self, request: Request, send: Send) -> None:
        try:
            traffic = self._traffic_or_404()
            _check_token(request)
            doc = loads_json(await request.body(self._limit))
            body = dumps(await traffic.change(doc))
        except ClientDisconnected:
            return
        except Exception as exc:
            status, body, content_type = self._error(exc, request, "traffic", v2=False)
            await _respond(send, status, body, request.request_id, content_type)
            return
        await _respond(send, 200, body, request.request_id)

    def _traffic_or_404(self) -> Any:
        if self.traffic is None:
            raise EndpointNotFound(
                "This server has no traffic strategy: start it with `slipway serve --traffic "
                "traffic.yaml`."
            )
        return self.traffic

    async def _not_found(self, request: Request, send: Send) -> None:
        if request.path in self._paths:
            allowed = sorted(m for m, p in self._routes if p == request.path)
            await self._wrong_method(request, send, ", ".join(allowed))
            return
        message = f"No endpoint {request.method} {request.path} on this slipway server."
        if request.path.startswith("/v2"):
            body = oip.error_body(message)
        else:
            body = scoring.error_body(404, "ENDPOINT_NOT_FOUND", message, request.request_id)
        await _respond(send, 404, body, request.request_id)

    async def _wrong_method(self, request: Request, send: Send, allowed: str) -> None:
        message = f"{request.method} is not allowed on {request.path}; use {allowed}."
        if request.path.startswith("/v2"):
            body = oip.error_body(message)
        else:
            body = scoring.error_body(405, "ENDPOINT_NOT_FOUND", message, request.request_id)
        await _respond(send, 405, body, request.request_id, extra=[(b"allow", allowed.encode())])


def _variant_of(model: ServedModel) -> dict[str, str]:
    return {"variant": model.variant} if model.variant else {}


def _check_token(request: Request) -> None:
    """`POST /traffic` needs `Authorization: Bearer <token>` when the server has a token."""
    token = os.environ.get(TRAFFIC_TOKEN_ENV)
    if not token:
        return
    given = next((v for k, v in request.headers if k == b"authorization"), b"")
    import hmac

    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        raise Unauthenticated(
            f"Changing the traffic needs Authorization: Bearer <token> ({TRAFFIC_TOKEN_ENV} "
            "of the server)."
        )


_ERROR_KINDS: dict[type, str] = {
    UnsupportedMediaType: "unsupported_media_type",
    RequestTooLarge: "too_large",
    ResourceDoesNotExist: "not_found",
    RequestTimedOut: "timeout",
    ServerUnavailable: "unavailable",
}


def _kind_of(status: int) -> str:
    return {404: "not_found", 413: "too_large", 415: "unsupported_media_type"}.get(
        status, "bad_request"
    )


def create_app(config: ServeConfig, *, client: Any = None) -> ServingApp:
    """The ASGI app serving `config.model_uris` (tests run it in-process under uvicorn)."""
    return ServingApp(config, client=client)


# ---------------------------------------------------------------------- running


class DrainingServer(uvicorn.Server):
    """uvicorn's Server, except that SIGTERM drains first and a drained server exits 0.

    SIGTERM marks the app as draining (`/ready` answers 503) and stops the server
    `drain_seconds` later; uvicorn then stops accepting connections and waits for the
    requests in flight. SIGINT (Ctrl-C) skips the wait; a second signal forces the exit.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        app: ServingApp,
        drain_seconds: float,
        *,
        worker: bool = False,
    ) -> None:
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self.worker = worker
        self.exit_at: float | None = None

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status
        # would say "killed by SIGTERM"; here a drained server simply returns.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        if self.worker:
            # A worker of `--workers N` hears only its supervisor (see WORKER_SIGNALS).
            handlers: dict[int, Any] = {sig: signal.SIG_IGN for sig in WORKER_SIGNALS}
            for meant, sent in WORKER_SIGNALS.items():
                handlers[sent] = functools.partial(self._from_supervisor, meant)
        else:
            handlers = {sig: self.handle_exit for sig in (signal.SIGINT, signal.SIGTERM)}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _from_supervisor(self, meant: int, sig: int, frame: FrameType | None) -> None:
        self.handle_exit(meant, frame)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.app.draining
        self.app.start_draining()
        if first and sig == signal.SIGTERM and self.drain_seconds > 0:
            self.exit_at = time.monotonic() + self.drain_seconds
            return
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


def _uvicorn_config(app: ServingApp, config: ServeConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=config.log_level,
        access_log=config.access_log,
        timeout_graceful_shutdown=int(config.request_timeout_s) + 5,
        server_header=False,
    )


def serve_in_process(
    config: ServeConfig, sockets: list[Any] | None = None, *, worker: bool = False
) -> int:
    """Run one server process (the only one, or a `worker` of a supervisor); returns its
    exit status."""
    app = ServingApp(config)
    app.freeze_gc = True
    server = DrainingServer(_uvicorn_config(app, config), app, config.drain_seconds, worker=worker)

    def fatal() -> None:
        server.should_exit = True

    app.on_fatal = fatal
    server.run(sockets=sockets)
    if app.load_error is not None or not server.started:
        return STARTUP_FAILED_EXIT
    return 0


@contextmanager
def serve_in_thread(
    config: ServeConfig, *, wait_ready: bool = True, timeout_s: float = 60.0
) -> Iterator[tuple[str, ServingApp]]:
    """Serve `config` from a thread of this process on a free loopback port (tests, the
    demo, notebooks); yields (base URL, app) once it answers, or once `/ready` when
    `wait_ready`, and stops the server on exit. `config.host`/`port` are not used."""
    import socket
    import urllib.request

    app = ServingApp(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="slipway-serve", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        while not server.started or (wait_ready and not app.ready):
            if app.load_error is not None:
                raise ServerUnavailable(f"slipway serve: the models did not load: {app.load_error}")
            if time.monotonic() > deadline or not thread.is_alive():
                raise ServerUnavailable(f"slipway serve at {url} did not start in {timeout_s} s.")
            time.sleep(0.02)
        with urllib.request.urlopen(f"{url}/health", timeout=10):  # the socket answers
            pass
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _worker_main(sock: Any) -> None:
    """Entry point of a worker process (spawned): settings come from the environment."""
    import sys

    for sig in WORKER_SIGNALS:  # from the first instant: only the supervisor stops us
        signal.signal(sig, signal.SIG_IGN)
    config = ServeConfig.from_env()
    _configure_logging(config.log_level)
    sys.exit(serve_in_process(config, sockets=[sock], worker=True))


def run(config: ServeConfig) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status (0 after a clean drain).

    With `workers > 1` this process binds the socket, starts the workers (each loads its
    own models), passes each SIGTERM/SIGINT it receives on to them once (`WORKER_SIGNALS`)
    and keeps Prometheus' multiprocess directory, which it removes at the end.
    """
    _configure_logging(config.log_level)
    sources_of(config)  # a bad URI fails here, before any worker starts
    if config.workers == 1:
        code = serve_in_process(config)
        return 1 if code == STARTUP_FAILED_EXIT else code
    return _run_workers(config)


def _run_workers(config: ServeConfig) -> int:
    import multiprocessing
    import shutil
    import socket
    import tempfile

    from slipway.serving.config import CONFIG_ENV
    from slipway.serving.metrics import MULTIPROC_ENV

    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="slipway-serve-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir
    os.environ[CONFIG_ENV] = config.to_env()
    sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    multiprocessing.allow_connection_pickling()
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def start_worker() -> Any:
        process = spawn.Process(target=_worker_main, args=(sock,), daemon=False)
        process.start()
        return process

    def forward(sig: int, frame: Any) -> None:
        # Once per signal this process receives, as the worker's own stop signal.
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, WORKER_SIGNALS[signal.Signals(sig)])

    workers = [start_worker() for _ in range(config.workers)]
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    logger.info("Started %d workers on %s:%d", config.workers, config.host, config.port)
    status = 0
    try:
        while workers:
            for process in list(workers):
                process.join(timeout=0.2)
                if process.exitcode is None:
                    continue
                workers.remove(process)
                if stopping:
                    continue
                if process.exitcode == STARTUP_FAILED_EXIT:
                    logger.error("A worker could not load its models; stopping")
                    status = 1
                    forward(signal.SIGINT, None)
                else:
                    logger.warning(
                        "Worker %s exited with %s; starting another", process.pid, process.exitcode
                    )
                    workers.append(start_worker())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
    return status


def _configure_logging(level: str) -> None:
    """Show slipway's log lines like uvicorn's, unless the host process set up logging."""
    ours = logging.getLogger("slipway")
    ours.setLevel(level.upper())
    if not ours.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        ours.addHandler(handler)


__all__ = [
    "DrainingServer",
    "ServingApp",
    "create_app",
    "run",
    "serve_in_process",
    "serve_in_thread",
]
