"""The webhook receiver: an ASGI app (Starlette) that turns signed alerts into Prefect events.

``POST /hooks/<source>`` (``generic``, ``grafana``, ``monitor``; see
:mod:`retrainer.webhooks.mappings`) checks, in this order, and emits nothing unless all pass:

1. the body is at most ``max_body_bytes`` — else **413**;
2. the HMAC-SHA256 signature over ``timestamp.body`` is right and the timestamp within the
   window — else **401** with the reason (missing, wrong, stale);
3. the signature was not used before (a replay) — else **401** ``replayed``;
4. the payload is JSON of the route's shape — else **422** naming the field;
5. the events reach the Prefect API — else **503** (the signature is released, so the tool's
   retry of the same request goes through).

A valid request answers **202** with the event ids (none for a resolved alert).
``GET /health`` answers 200. The app imports the core only (no Prefect): events go to the
Prefect API over HTTP (``POST /api/events``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from retrainer.asgi import read_body
from retrainer.webhooks.mappings import MAPPINGS, PayloadError, alerts_from
from retrainer.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 256 * 1024
DEFAULT_TOLERANCE_SECONDS = 300.0


class Emitter(Protocol):
    """Where events go (the Prefect API)."""

    def emit(self, events: list[dict]) -> None:
        """Send the events; raise on failure."""


class ReplayGuard(Protocol):
    """Remembers the signatures of accepted requests until they would be stale anyway."""

    def claim(self, signature: str, expires_at: float) -> bool:
        """Remember ``signature``; False when it was already there (a replay)."""

    def release(self, signature: str) -> None:
        """Forget ``signature`` (its request could not be delivered)."""


def _error(status: int, message: str, **extra: str) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(
    *,
    model: str,
    secret: str,
    emitter: Emitter,
    replay: ReplayGuard,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The receiver for one model's alerts.

    Args:
        model: The model the alerts are about (payloads naming another are refused).
        secret: The shared signing secret.
        emitter: Sends the events (e.g. :class:`retrainer.webhooks.emitter.PrefectEventsEmitter`).
        replay: Remembers used signatures (in memory, or in the operational store).
        max_body_bytes: Larger bodies get 413.
        tolerance_seconds: Timestamps further from now get 401.
        clock: Seconds since the epoch (tests pass their own).
    """
    if not secret:
        raise ValueError("the webhook secret is empty")

    async def hook(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        if source not in MAPPINGS:
            return _error(404, f"unknown source {source!r}; known: {', '.join(MAPPINGS)}")
        body = await read_body(request, max_body_bytes)
        if body is None:
            return _error(413, f"body larger than {max_body_bytes:,} bytes")
        try:
            verified = verify(
                secret,
                body,
                request.headers.get(SIGNATURE_HEADER),
                request.headers.get(TIMESTAMP_HEADER),
                clock(),
                tolerance_seconds,
            )
        except SignatureError as exc:
            return _error(401, str(exc))
        # the store and the Prefect API are blocking calls: off the event loop
        claimed = await run_in_threadpool(
            replay.claim, verified.signature, verified.timestamp + tolerance_seconds
        )
        if not claimed:
            return _error(401, "replayed: this signature was used before")
        try:
            payload = json.loads(body)
            alerts = alerts_from(source, payload, model)
        except json.JSONDecodeError as exc:
            return _error(422, f"(body): not JSON: {exc.msg}", field="(body)")
        except PayloadError as exc:
            return _error(422, str(exc), field=exc.field)
        events = [a.to_event() for a in alerts]
        if events:
            try:
                await run_in_threadpool(emitter.emit, events)
            except Exception as exc:  # the Prefect API is down or refused: the tool retries
                await run_in_threadpool(replay.release, verified.signature)
                logger.warning("could not emit %d event(s): %s", len(events), exc)
                return _error(503, f"the Prefect API did not take the events: {exc}")
        return JSONResponse(
            {
                "emitted": len(events),
                "event_ids": [e["id"] for e in events],
                "alert_ids": [a.alert_id for a in alerts],
            },
            status_code=202,
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model": model})

    return Starlette(
        routes=[
            Route("/hooks/{source}", hook, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
