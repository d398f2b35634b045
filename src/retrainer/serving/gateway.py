"""The serving gateway: an ASGI app (Starlette) that answers, routes, shadows and logs.

Routes:

* ``POST /predict`` — one row (``{"inputs": {...}}``) or a batch (``{"inputs": [...]}``),
  checked against the champion's signature (a bad request gets a 4xx naming the field, see
  :mod:`retrainer.serving.requests`; a body over ``max_body_bytes`` gets 413). The request
  is routed by the plan in force (sticky by entity key, else by request id; a batch is
  routed as one, by its first row's key) and micro-batched with concurrent requests for the
  same version. The answer carries ``request_id``, ``variant``, ``version`` and one
  prediction per row (``row_ids`` too for a batch: the ids its rows are logged and take
  feedback under, ``<request_id>.<i>``).
* ``POST /feedback`` — labels for earlier requests: ``{"labels": [{"request_id" or
  "entity_key", "label", "event_at"?}, ...]}``.
* ``GET /health`` (the process is up), ``GET /ready`` (the champion is loaded; 503 before),
  ``GET /metrics`` (Prometheus text), ``GET /rollout`` (the plan in force).

What keeps the answers safe: in shadow the challenger scores on a worker thread behind a
bounded queue (:mod:`retrainer.serving.shadow`); a canary request the challenger fails on is
answered by the champion (``fallback: true``) and the challenger's error is logged. Every
answered row and every shadow row goes to the prediction log through a background writer
(:mod:`retrainer.serving.writer`); the app's shutdown (uvicorn drains open requests on
SIGTERM first) writes what is left. The plan and the models are polled every
``poll_seconds``: a new version is loaded off the event loop and swapped in at once, a
version no longer in the plan is released. The app imports the core only (no Prefect).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute

from retrainer.asgi import read_body
from retrainer.serving.batching import InFlight
from retrainer.serving.feedback import FeedbackError, parse_feedback
from retrainer.serving.models import LoadedModel, Loader, Output
from retrainer.serving.plan import ServingPlan
from retrainer.serving.requests import RequestError, parse_request
from retrainer.serving.routing import Route, route
from retrainer.serving.shadow import Scorer, ShadowJob, ShadowRunner
from retrainer.serving.writer import PredictionWriter
from retrainer.store.labels import Label
from retrainer.store.predictions import Prediction

logger = logging.getLogger(__name__)

SHADOW_SUFFIX = ":shadow"
FALLBACK_SUFFIX = ":fallback"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class GatewaySettings:
    """How the gateway batches, shadows, logs and polls.

    Attributes:
        max_body_bytes: Larger request bodies get 413.
        max_rows_per_request: More rows in one request get 413.
        max_batch_rows: Rows per model call at most (micro-batching).
        max_wait_ms: How long a request may wait for others to batch with.
        shadow_queue: Shadow jobs waiting at most; more are dropped and counted.
        poll_seconds: How often the plan in force is read from the store.
        log_predictions: Write answered and shadow predictions to the store.
        log_interval: Seconds between prediction log writes.
    """

    max_body_bytes: int = 1024 * 1024
    max_rows_per_request: int = 10_000
    max_batch_rows: int = 256
    max_wait_ms: float = 2.0
    shadow_queue: int = 1_000
    poll_seconds: float = 2.0
    log_predictions: bool = True
    log_interval: float = 0.2


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "retrainer_gateway_requests",
            "Predict requests answered.",
            ["variant", "version"],
            registry=r,
        )
        self.rows = Counter(
            "retrainer_gateway_rows", "Rows scored for answers.", ["variant", "version"], registry=r
        )
        self.latency = Histogram(
            "retrainer_gateway_request_seconds",
            "Time from request to answer.",
            ["variant"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "retrainer_gateway_errors",
            "Failed requests and model calls by kind (bad_request, model, not_ready, fallback).",
            ["variant", "kind"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "retrainer_gateway_shadow_dropped", "Shadow jobs dropped (queue full).", registry=r
        )
        self.shadow_scored = Counter(
            "retrainer_gateway_shadow_rows", "Rows the shadow challenger scored.", registry=r
        )
        self.shadow_errors = Counter(
            "retrainer_gateway_shadow_errors", "Shadow scoring calls that failed.", registry=r
        )
        self.shadow_depth = Gauge(
            "retrainer_gateway_shadow_queue_depth", "Shadow jobs waiting.", registry=r
        )
        self.log_backlog = Gauge(
            "retrainer_gateway_log_backlog", "Predictions waiting to be logged.", registry=r
        )
        self.logged = Gauge(
            "retrainer_gateway_predictions_logged", "Predictions written to the store.", registry=r
        )
        self.feedback = Counter(
            "retrainer_gateway_feedback_labels", "Labels received on /feedback.", registry=r
        )
        self.swaps = Counter(
            "retrainer_gateway_model_loads", "Model versions loaded.", ["version"], registry=r
        )


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _error(status: int, message: str, field_name: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field_name is not None:
        body["field"] = field_name
    return _json(body, status)


def _freeze_heap() -> None:
    """Move what is alive now (libraries, models) out of the garbage collector's sight.

    A full collection walks every tracked object; with pandas, scikit-learn and MLflow loaded
    that is ~150 ms in which no request is answered, a few times a minute under load. Frozen
    objects are never walked (``gc.freeze``), so collections see only per-request garbage.
    """
    gc.collect()
    gc.freeze()


def _decode(body: bytes) -> Any:
    """The JSON body (NaN and Infinity accepted here, so the field check can name them)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError("body", f"not JSON: {exc}") from None


class Gateway:
    """The gateway's state: the plan, the loaded models, the writer and the shadow worker.

    Args:
        model: The registered model name (logged with every prediction).
        plan_source: Reads the plan in force (blocking; called off the event loop).
        loader: Loads a version (blocking; called off the event loop).
        prediction_sink: Writes a batch of predictions (``store.predictions.insert_many``).
        label_sink: Stores labels (``store.labels.insert_many``).
        settings: Batching, shadow, logging and polling settings.
        shadow_scorer: Where shadow batches are scored (default: on the shadow thread; see
            :mod:`retrainer.serving.shadow`).
    """

    def __init__(
        self,
        model: str,
        plan_source: Callable[[], ServingPlan],
        loader: Loader,
        prediction_sink: Callable[[list[Prediction]], int],
        label_sink: Callable[[list[Label]], int],
        settings: GatewaySettings | None = None,
        shadow_scorer: Scorer | None = None,
    ):
        self.model = model
        self.settings = settings or GatewaySettings()
        self._plan_source = plan_source
        self._loader = loader
        self._label_sink = label_sink
        self.plan: ServingPlan | None = None
        self.models: dict[str, LoadedModel] = {}
        self.problem: str | None = "starting: the models are not loaded yet"
        self.metrics = _Metrics()
        self.writer = PredictionWriter(prediction_sink, interval=self.settings.log_interval)
        self.shadow = ShadowRunner(
            self.settings.shadow_queue, self.settings.max_batch_rows, shadow_scorer
        )
        self.metrics.shadow_depth.set_function(lambda: self.shadow.depth)
        self.metrics.log_backlog.set_function(lambda: self.writer.pending)
        self.metrics.logged.set_function(lambda: self.writer.stats.written)
        self._refresh_lock = asyncio.Lock()
        self.inflight = InFlight()

    # -- the plan and the models ---------------------------------------------------------
    async def refresh(self) -> None:
        """Read the plan; load the versions it names that are not loaded; swap at once."""
        async with self._refresh_lock:
            try:
                plan = await asyncio.to_thread(self._plan_source)
            except Exception as exc:  # the store is unreachable: keep serving the last plan
                self.problem = self.problem if self.plan else f"cannot read the plan: {exc}"
                logger.warning("cannot read the plan in force: %s", exc)
                return
            if plan.champion is None:
                self.problem = f"model {self.model!r} has no champion to serve yet"
                self.plan, self.models = None, {}
                return
            models = {v: m for v, m in self.models.items() if v in plan.versions}
            for version in sorted(plan.versions - set(models)):
                try:
                    models[version] = await asyncio.to_thread(self._loader, version)
                    models[version].attach(self.inflight)
                    self.metrics.swaps.labels(version).inc()
                except Exception as exc:
                    logger.warning("cannot load version %s: %s", version, exc)
                    if version == plan.champion:
                        self.problem = f"cannot load champion v{version}: {exc}"
                        return
            if plan.challenger is not None and plan.challenger not in models:
                plan = ServingPlan(plan.champion, rollout=plan.rollout)  # all to the champion
            loaded = set(models) - set(self.models)
            self.plan, self.models, self.problem = plan, models, None  # one swap
            if loaded:
                _freeze_heap()
            if plan.challenger in loaded and plan.traffic.shadow_fraction > 0:
                self.shadow.scorer.prepare(plan.challenger)

    async def poll(self) -> None:
        """Refresh every ``poll_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            await self.refresh()

    # -- predictions ---------------------------------------------------------------------
    async def predict(self, request: Request) -> Response:
        """``POST /predict``: check, route, score (batched), log, maybe shadow, answer."""
        self.inflight.enter()  # the batcher counts it out when it scores it
        submitted = [False]
        try:
            return await self._predict(request, submitted)
        finally:
            if not submitted[0]:  # left before scoring (a bad request)
                self.inflight.leave()

    async def _predict(self, request: Request, submitted: list[bool]) -> Response:
        started = time.perf_counter()
        body = await read_body(request, self.settings.max_body_bytes)
        if body is None:
            self.metrics.errors.labels("-", "bad_request").inc()
            return _error(413, f"body larger than {self.settings.max_body_bytes:,} bytes", "body")
        plan, models = self.plan, self.models  # one consistent snapshot per request
        if plan is None or plan.champion not in models:
            self.metrics.errors.labels("-", "not_ready").inc()
            return _error(503, self.problem or "not ready")
        champion = models[plan.champion]
        try:
            data = _decode(body)
            parsed = parse_request(data, champion.signature, self.settings.max_rows_per_request)
        except RequestError as exc:
            self.metrics.errors.labels("-", "bad_request").inc()
            return _json(exc.to_dict(), exc.status)
        request_id = parsed.request_id or uuid.uuid4().hex
        challenger = models.get(plan.challenger) if plan.challenger else None
        where = (
            route(plan.traffic, parsed.entity_keys[0] or request_id)
            if challenger is not None
            else Route("champion")
        )
        answering = challenger if where.variant == "challenger" and challenger else champion
        try:
            submitted[0] = True
            model, outputs, fallback = await self._score(
                request_id, parsed, data, answering, champion, started
            )
        except (ValueError, TypeError) as exc:  # rows the model refuses (an unseen category)
            self.metrics.errors.labels("champion", "bad_request").inc()
            return _error(422, f"the model cannot score these rows: {exc}", "inputs")
        except Exception as exc:
            self.metrics.errors.labels("champion", "model").inc()
            logger.warning("champion v%s failed: %s", champion.version, exc)
            return _error(503, f"the model failed: {type(exc).__name__}: {exc}")
        variant = "champion" if model is champion else "challenger"
        suffix = FALLBACK_SUFFIX if fallback else ""
        row_ids = self._log(
            request_id, parsed, data, model, variant, outputs, started, None, suffix
        )
        if where.shadow and challenger is not None:
            self._shadow(challenger, parsed, row_ids)
        self.metrics.requests.labels(variant, model.version).inc()
        self.metrics.rows.labels(variant, model.version).inc(len(outputs))
        self.metrics.latency.labels(variant).observe(time.perf_counter() - started)
        answer: dict[str, Any] = {
            "request_id": request_id,
            "variant": variant,
            "version": model.version,
            "predictions": [o.to_dict() for o in outputs],
        }
        if len(outputs) > 1:
            answer["row_ids"] = row_ids
        if fallback:
            answer["fallback"] = True
        return _json(answer)

    async def _score(
        self,
        request_id: str,
        parsed: Any,
        data: dict[str, Any],
        model: LoadedModel,
        champion: LoadedModel,
        started: float,
    ) -> tuple[LoadedModel, list[Output], bool]:
        """The answering model and its outputs; a failing challenger falls back to the champion.

        The challenger's failure is logged as its error (the canary's error rate counts it).
        """
        try:
            return (
                model,
                model.outputs(await model.batcher.submit(parsed.columns, parsed.rows)),
                False,
            )
        except Exception as exc:
            if model is champion:
                raise
            self.metrics.errors.labels("challenger", "fallback").inc()
            error = f"{type(exc).__name__}: {exc}"[:2000]
            self._log(request_id, parsed, data, model, "challenger", None, started, error)
        self.inflight.enter()  # in flight again, for the champion's batcher
        return (
            champion,
            champion.outputs(await champion.batcher.submit(parsed.columns, parsed.rows)),
            True,
        )

    def _log(
        self,
        request_id: str,
        parsed: Any,
        data: dict[str, Any],
        model: LoadedModel,
        variant: str,
        outputs: list[Output] | None,
        started: float,
        error: str | None,
        suffix: str = "",
    ) -> list[str]:
        """Queue the rows of one answer for the log; the row ids."""
        inputs = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
        row_ids = (
            [request_id] if len(inputs) == 1 else [f"{request_id}.{i}" for i in range(len(inputs))]
        )
        if self.settings.log_predictions:
            latency = (time.perf_counter() - started) * 1000
            now = datetime.now(UTC)
            self.writer.add(
                Prediction(
                    request_id=row_id + suffix,
                    model=self.model,
                    version=model.version,
                    variant=variant,
                    inputs=row,
                    label=None if outputs is None else outputs[i].label,
                    score=None if outputs is None else outputs[i].score,
                    latency_ms=latency,
                    entity_key=parsed.entity_keys[i],
                    at=now,
                    error=error,
                )
                for i, (row_id, row) in enumerate(zip(row_ids, inputs, strict=True))
            )
        return row_ids

    def _shadow(self, challenger: LoadedModel, parsed: Any, row_ids: list[str]) -> None:

        def done(outputs: list[Output] | None, error: str | None, elapsed_ms: float) -> None:
            if error is not None:
                self.metrics.shadow_errors.inc()
            else:
                self.metrics.shadow_scored.inc(len(row_ids))
            if not self.settings.log_predictions:
                return
            now = datetime.now(UTC)
            self.writer.add(
                Prediction(
                    request_id=row_id + SHADOW_SUFFIX,
                    model=self.model,
                    version=challenger.version,
                    variant="shadow",
                    inputs={},  # the same request's champion row holds them
                    label=None if outputs is None else outputs[i].label,
                    score=None if outputs is None else outputs[i].score,
                    latency_ms=elapsed_ms,
                    entity_key=parsed.entity_keys[i],
                    at=now,
                    error=error,
                )
                for i, row_id in enumerate(row_ids)
            )

        if not self.shadow.offer(ShadowJob(challenger, parsed.columns, parsed.rows, done)):
            self.metrics.shadow_dropped.inc()

    # -- the other routes ----------------------------------------------------------------
    async def feedback(self, request: Request) -> Response:
        """``POST /feedback``: store labels for earlier requests (202)."""
        body = await read_body(request, self.settings.max_body_bytes)
        if body is None:
            return _error(413, f"body larger than {self.settings.max_body_bytes:,} bytes", "body")
        try:
            labels = parse_feedback(_decode(body))
        except (RequestError, FeedbackError) as exc:
            return _json(exc.to_dict(), 422)
        try:
            stored = await asyncio.to_thread(self._label_sink, labels)
        except Exception as exc:  # the store is down: the sender retries
            logger.warning("cannot store %d labels: %s", len(labels), exc)
            return _error(503, f"the labels could not be stored: {exc}")
        self.metrics.feedback.inc(stored)
        return _json({"stored": stored}, 202)

    async def health(self, request: Request) -> Response:
        """``GET /health``: the process is up."""
        return _json({"status": "ok", "model": self.model})

    async def ready(self, request: Request) -> Response:
        """``GET /ready``: 200 once the champion is loaded, else 503 with the reason."""
        plan = self.plan
        if plan is None or plan.champion not in self.models:
            return _json({"ready": False, "reason": self.problem or "not ready"}, 503)
        return _json({"ready": True, "champion": plan.champion, "challenger": plan.challenger})

    async def rollout(self, request: Request) -> Response:
        """``GET /rollout``: the plan in force."""
        if self.plan is None:
            return _json({"model": self.model, "champion": None, "reason": self.problem}, 503)
        return _json({"model": self.model, **self.plan.to_dict()})

    async def metrics_text(self, request: Request) -> Response:
        """``GET /metrics``: Prometheus text."""
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- life cycle ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Load, start the writer, the shadow worker and the poll; on shutdown flush all."""
        self.writer.start()
        self.shadow.start()
        await self.refresh()
        poller = asyncio.create_task(self.poll())
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await asyncio.to_thread(self.shadow.close)
            await asyncio.to_thread(self.writer.close)

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(
            routes=[
                HttpRoute("/predict", self.predict, methods=["POST"]),
                HttpRoute("/feedback", self.feedback, methods=["POST"]),
                HttpRoute("/health", self.health, methods=["GET"]),
                HttpRoute("/ready", self.ready, methods=["GET"]),
                HttpRoute("/rollout", self.rollout, methods=["GET"]),
                HttpRoute("/metrics", self.metrics_text, methods=["GET"]),
            ],
            lifespan=self.lifespan,
        )
