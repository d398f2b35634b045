"""Events to the Prefect API over HTTP (no Prefect import): ``POST <api>/events``.

Works for a self-hosted server (``PREFECT_API_URL=http://host:4200/api``, with
``PREFECT_API_AUTH_STRING`` when the server uses basic auth) and Prefect Cloud
(``.../api/accounts/<a>/workspaces/<w>`` with ``PREFECT_API_KEY``). Repeated event ids are
processed once by the server.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class PrefectEventsEmitter:
    """Posts events to a Prefect API."""

    api_url: str
    api_key: str | None = None
    timeout: float = 10.0
    auth_string: str | None = None  # a self-hosted server's basic auth (user:password)

    def emit(self, events: list[dict]) -> None:
        """Send the events.

        Raises:
            httpx.HTTPError: When the API cannot be reached or refuses them.
        """
        headers = {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        elif self.auth_string:
            token = base64.b64encode(self.auth_string.encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        response = httpx.post(
            f"{self.api_url.rstrip('/')}/events", json=events, headers=headers, timeout=self.timeout
        )
        response.raise_for_status()


@dataclass
class MemoryReplayGuard:
    """Used signatures in memory (one receiver process; the store keeps them across processes)."""

    clock: object = time.time
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, signature: str, expires_at: float) -> bool:
        """Remember ``signature``; False when it is there already."""
        now = self.clock()  # type: ignore[operator]
        with self._lock:
            self._seen = {s: t for s, t in self._seen.items() if t > now}
            if signature in self._seen:
                return False
            self._seen[signature] = expires_at
            return True

    def release(self, signature: str) -> None:
        """Forget ``signature``."""
        with self._lock:
            self._seen.pop(signature, None)
