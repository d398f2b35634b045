"""The webhook receiver: signed monitoring alerts in, ``retrainer.alert.received`` events out.

Imports the core only (Starlette, httpx): no Prefect.
"""

from retrainer.webhooks.app import create_app
from retrainer.webhooks.emitter import MemoryReplayGuard, PrefectEventsEmitter
from retrainer.webhooks.mappings import ALERT_RECEIVED, AlertEvent, PayloadError, alerts_from
from retrainer.webhooks.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

__all__ = [
    "ALERT_RECEIVED",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertEvent",
    "MemoryReplayGuard",
    "PayloadError",
    "PrefectEventsEmitter",
    "SignatureError",
    "alerts_from",
    "create_app",
    "sign",
    "verify",
]
