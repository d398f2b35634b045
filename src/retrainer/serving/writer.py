"""The prediction log writer: answered and shadow predictions to the store, in batches.

The request path only appends to a list (:meth:`PredictionWriter.add`); a background thread
writes what is waiting every ``interval`` seconds, or sooner once ``max_rows`` rows wait, in
one transaction. A failed write keeps its rows for the next try (at-least-once; the store
skips a request id it already holds). :meth:`close` writes everything left, so a gateway that
drains before it exits loses no answered prediction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from retrainer.store.predictions import Prediction

logger = logging.getLogger(__name__)


@dataclass
class WriterStats:
    """Counts for ``/metrics``."""

    written: int = 0
    failures: int = 0
    dropped: int = 0


class PredictionWriter:
    """Writes predictions in the background.

    Args:
        sink: Writes a batch in one transaction (``store.predictions.insert_many``).
        max_rows: Rows per write at most, and the backlog that wakes the writer early.
        interval: Seconds between writes.
        max_backlog: Rows kept while the store is unreachable; older ones beyond are dropped
            (and counted) rather than exhausting memory.
    """

    def __init__(
        self,
        sink: Callable[[list[Prediction]], int],
        max_rows: int = 1_000,
        interval: float = 0.2,
        max_backlog: int = 1_000_000,
    ):
        self._sink = sink
        self.max_rows = max_rows
        self.interval = interval
        self.max_backlog = max_backlog
        self._rows: list[Prediction] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = WriterStats()

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._rows)

    def add(self, rows: Iterable[Prediction]) -> None:
        """Queue rows (cheap; called on the request path)."""
        with self._lock:
            self._rows.extend(rows)
            over = len(self._rows) - self.max_backlog
            if over > 0:
                del self._rows[:over]
                self.stats.dropped += over
            full = len(self._rows) >= self.max_rows
        if full:
            self._wake.set()

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._loop, name="prediction-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush(once=True)

    def flush(self, once: bool = False) -> bool:
        """Write what waits (one batch with ``once``); False when a write failed."""
        while True:
            with self._lock:
                batch = self._rows[: self.max_rows]
            if not batch:
                return True
            try:
                self._sink(batch)
            except Exception as exc:  # the store is down: keep the rows, try again later
                self.stats.failures += 1
                logger.warning("could not write %d predictions: %s", len(batch), exc)
                return False
            with self._lock:
                del self._rows[: len(batch)]
            self.stats.written += len(batch)
            if once:
                return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and write everything left (retrying until ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(min(0.5, self.interval))
        if self._rows:
            logger.error("%d predictions could not be written before shutdown", len(self._rows))
