"""Adaptive micro-batching: concurrent requests for one model gathered into one call.

A scikit-learn pipeline costs about the same per call for one row or a hundred (the
ColumnTransformer's per-call overhead), so a server that scores each request alone caps at a
few hundred requests a second per worker. :class:`MicroBatcher` queues the frames of
concurrent requests and scores them together once ``max_rows`` rows are waiting, or once
every request in flight (an :class:`InFlight` count the server keeps: arrived, not scored
yet) is waiting, or once the first of them has waited ``max_wait_ms``. So a lone request is
scored at once (no added latency at low load), and under load each call takes everyone who
arrived meanwhile, waiting at most ``max_wait_ms`` for the clients of the recent
concurrency whose next request is on its way (see :class:`InFlight`).

The scoring runs on the event loop (a thread pool loses throughput to the GIL under
concurrency). A scoring error fails every request of that batch with the same exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class InFlight:
    """Requests that arrived and are not scored yet (the server counts them in and out).

    The server calls :meth:`enter` when a request arrives and :meth:`leave` when it leaves
    without being scored (a bad request); :class:`MicroBatcher` counts out the requests it
    scores. ``peak`` remembers the recent concurrency: closed-loop clients whose answers are
    on the wire are not in flight, yet they are about to send again, so a batch waits for
    that many (at most ``max_wait_ms``). It decays at each call, so when the load drops a lone
    request is scored at once again.
    """

    count: int = 0
    peak: float = 0.0

    def enter(self) -> None:
        """A request arrived."""
        self.count += 1
        self.peak = max(self.peak, float(self.count))

    def leave(self, n: int = 1) -> None:
        """``n`` requests were scored or left."""
        self.count -= n

    def expected(self) -> int:
        """How many requests a batch waits for."""
        return max(self.count, int(self.peak))

    def decay(self) -> None:
        """One call made: the remembered concurrency fades."""
        self.peak = max(float(self.count), self.peak * 0.8)


@dataclass
class BatchStats:
    """Counts for ``/metrics``: calls made, rows and requests scored."""

    calls: int = 0
    rows: int = 0
    requests: int = 0
    sizes: list[int] = field(default_factory=list)  # rows per call, the latest 1,000


class MicroBatcher:
    """Gathers frames of concurrent requests into one scoring call.

    Args:
        score: Scores a frame, returning one result per row (an array, first axis rows).
        max_rows: Rows at most per call (a request larger than this is scored alone).
        max_wait_ms: How long the first waiting request may wait for others.
        inflight: The server's count of requests not scored yet; without it every batch
            waits ``max_wait_ms`` (or until full).
        join: Makes the frame of a call from the submitted items (default: the items are
            DataFrames, concatenated); the gateway submits checked columns instead, so the
            frame is built once per call.
    """

    def __init__(
        self,
        score: Callable[[pd.DataFrame], Any],
        max_rows: int = 256,
        max_wait_ms: float = 2.0,
        inflight: InFlight | None = None,
        join: Callable[[list[Any]], pd.DataFrame] | None = None,
    ):
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._score = score
        self.max_rows = max_rows
        self.max_wait = max(max_wait_ms, 0.0) / 1000
        self._join = join or _concat
        self._waiting: list[tuple[Any, int, asyncio.Future]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self.inflight = inflight
        self.stats = BatchStats()

    async def submit(self, item: Any, rows: int | None = None) -> Any:
        """Score ``item`` (a frame, or what ``join`` takes) with whatever else is waiting.

        Args:
            item: The request's rows.
            rows: How many (default ``len(item)``).

        Returns:
            The results of its own rows.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        n = len(item) if rows is None else rows
        self._waiting.append((item, n, future))
        self._rows += n
        if self._rows >= self.max_rows:
            self._flush(everything=False)
        elif self.inflight is not None and len(self._waiting) >= self.inflight.expected():
            if self._timer is not None:  # everyone in flight is here: score now
                self._timer.cancel()
            self._timer = loop.call_soon(self._flush)
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait, self._flush)
        return await future

    def _flush(self, everything: bool = True) -> None:
        """Score what waits: all of it (the timer), or only full batches (the size trigger).

        What remains waits for a new timer.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting and (everything or self._rows >= self.max_rows):
            batch, rows = [], 0
            while self._waiting and (not batch or rows + self._waiting[0][1] <= self.max_rows):
                entry = self._waiting.pop(0)
                batch.append(entry)
                rows += entry[1]
            self._rows -= rows
            self._run(batch, rows)
        if self._waiting:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.max_wait, self._flush)

    def _run(self, batch: list[tuple[Any, int, asyncio.Future]], rows: int) -> None:
        if self.inflight is not None:
            self.inflight.leave(len(batch))
            self.inflight.decay()
        try:
            results = np.asarray(self._score(self._join([item for item, _, _ in batch])))
            if len(results) != rows:
                raise ValueError(f"the model returned {len(results)} results for {rows} rows")
        except Exception as exc:  # every request of the batch gets the error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.stats.calls += 1
        self.stats.rows += rows
        self.stats.requests += len(batch)
        self.stats.sizes = [*self.stats.sizes[-999:], rows]
        offset = 0
        for _, n, future in batch:
            if not future.done():
                future.set_result(results[offset : offset + n])
            offset += n


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
