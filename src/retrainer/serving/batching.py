"""Adaptive micro-batching: concurrent requests for one model gathered into one call.

A scikit-learn pipeline costs about the same per call for one row or a hundred (the
ColumnTransformer's per-call overhead), so a server that scores each request alone caps at a
few hundred requests a second per worker. :class:`MicroBatcher` queues the frames of
concurrent requests and scores them together once ``max_rows`` rows are waiting, or once
every request in flight (an :class:`InFlight` count the server keeps: arrived, not scored
yet) is waiting, or once the first of them has waited ``max_wait_ms``. So a lone request is
scored at once (no added latency at low load), and under load each call takes everyone who
arrived meanwhile, waiting at most ``max_wait_ms`` for a request still being read.

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

    The server adds one when a request arrives and removes one when it leaves without being
    scored (a bad request); :class:`MicroBatcher` removes the requests it scores.
    """

    count: int = 0


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
    """

    def __init__(
        self,
        score: Callable[[pd.DataFrame], Any],
        max_rows: int = 256,
        max_wait_ms: float = 2.0,
        inflight: InFlight | None = None,
    ):
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._score = score
        self.max_rows = max_rows
        self.max_wait = max(max_wait_ms, 0.0) / 1000
        self._waiting: list[tuple[pd.DataFrame, asyncio.Future]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self.inflight = inflight
        self.stats = BatchStats()

    async def submit(self, frame: pd.DataFrame) -> Any:
        """Score ``frame`` with whatever else is waiting; its own rows' results."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._waiting.append((frame, future))
        self._rows += len(frame)
        if self._rows >= self.max_rows:
            self._flush(everything=False)
        elif self.inflight is not None and len(self._waiting) >= self.inflight.count:
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
            while self._waiting and (not batch or rows + len(self._waiting[0][0]) <= self.max_rows):
                frame, future = self._waiting.pop(0)
                batch.append((frame, future))
                rows += len(frame)
            self._rows -= rows
            self._run(batch, rows)
        if self._waiting:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.max_wait, self._flush)

    def _run(self, batch: list[tuple[pd.DataFrame, asyncio.Future]], rows: int) -> None:
        frames = [f for f, _ in batch]
        if self.inflight is not None:
            self.inflight.count -= len(batch)
        try:
            joined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            results = np.asarray(self._score(joined))
            if len(results) != rows:
                raise ValueError(f"the model returned {len(results)} results for {rows} rows")
        except Exception as exc:  # every request of the batch gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.stats.calls += 1
        self.stats.rows += rows
        self.stats.requests += len(batch)
        self.stats.sizes = [*self.stats.sizes[-999:], rows]
        offset = 0
        for frame, future in batch:
            if not future.done():
                future.set_result(results[offset : offset + len(frame)])
            offset += len(frame)
