"""What a debounced, cooled-down policy remembers between decisions (JSON-able).

Kept per model in the operational store's ``trigger_state``; the backtest keeps it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from retrainer.policy.clock import utc


@dataclass(frozen=True)
class PolicyState:
    """A model's trigger state.

    Attributes:
        last_retrain: When the policy last decided to retrain (None: never).
        retrains: When it decided to retrain within the last two days (daily cap).
        consecutive: Trigger name → consecutive breaching checks so far.
        processed_events: Event and alert ids already decided on (newest last).
        started: When the policy first decided for this model (a schedule counts from there
            when neither a retrain nor the champion's training time is known).
    """

    last_retrain: datetime | None = None
    retrains: tuple[datetime, ...] = ()
    consecutive: dict[str, int] = field(default_factory=dict)
    processed_events: tuple[str, ...] = ()
    started: datetime | None = None

    def retrained(self, now: datetime) -> PolicyState:
        """The state after a retrain decision at ``now``."""
        recent = tuple(t for t in self.retrains if utc(t) > utc(now) - timedelta(days=2))
        return replace(self, last_retrain=utc(now), retrains=(*recent, utc(now)))

    def with_events(self, ids: list[str], keep: int) -> PolicyState:
        """The state remembering ``ids`` as processed (at most ``keep`` ids in all)."""
        known = [i for i in self.processed_events if i not in set(ids)]
        return replace(self, processed_events=tuple([*known, *ids][-keep:]))

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return {
            "last_retrain": self.last_retrain.isoformat() if self.last_retrain else None,
            "retrains": [t.isoformat() for t in self.retrains],
            "consecutive": dict(self.consecutive),
            "processed_events": list(self.processed_events),
            "started": self.started.isoformat() if self.started else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyState:
        """Inverse of :meth:`to_dict` (None: a fresh state)."""
        if not data:
            return cls()
        last, started = data.get("last_retrain"), data.get("started")
        return cls(
            last_retrain=utc(datetime.fromisoformat(last)) if last else None,
            retrains=tuple(utc(datetime.fromisoformat(t)) for t in data.get("retrains", [])),
            consecutive={str(k): int(v) for k, v in (data.get("consecutive") or {}).items()},
            processed_events=tuple(str(i) for i in data.get("processed_events", [])),
            started=utc(datetime.fromisoformat(started)) if started else None,
        )
