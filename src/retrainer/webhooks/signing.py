"""Signed webhooks: HMAC-SHA256 over ``timestamp.body`` with a shared secret (pure).

A sender computes ``hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))`` and sends it with the
timestamp (Unix seconds) in two headers. The receiver recomputes it, compares in constant time,
accepts timestamps within a window (±5 minutes by default) and rejects a signature it has seen
before (a replay). The same scheme as Stripe's and Slack's webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_HEADER = "x-retrainer-signature"
TIMESTAMP_HEADER = "x-retrainer-timestamp"
SCHEME = "sha256="


class SignatureError(Exception):
    """The request is not signed right (the message says why; answered with 401)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    message = f"{timestamp}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out."""

    timestamp: int
    signature: str


def verify(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float,
    tolerance_seconds: float = 300.0,
) -> Verified:
    """Check a request's signature and timestamp (not yet whether it was seen before).

    Raises:
        SignatureError: Missing headers, a malformed or stale timestamp, a wrong signature.
    """
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is not Unix seconds: {timestamp[:40]!r}"
        ) from None
    if abs(now - sent) > tolerance_seconds:
        raise SignatureError(
            f"stale request: sent {abs(now - sent):.0f} s from now, at most "
            f"{tolerance_seconds:.0f} s allowed"
        )
    expected = sign(secret, sent, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("wrong signature")
    return Verified(sent, signature.strip())
