"""Shadow scoring off the request path: a bounded queue and one worker thread.

The champion answers; the challenger's scoring of the same rows is only queued
(:meth:`ShadowRunner.offer`, which never blocks). A worker thread takes what waits, scores it
in batches per model and hands each job its outputs or its error. When the queue is full the
job is dropped and counted: a slow or failing challenger can fall behind, never slow down or
break an answer. The thread also keeps a sleeping challenger (one that blocks in ``predict``)
off the event loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from retrainer.serving.models import LoadedModel, Output

logger = logging.getLogger(__name__)


@dataclass
class ShadowJob:
    """The rows a challenger must score, and what to do with the outcome.

    Attributes:
        model: The challenger.
        frame: The checked input rows.
        done: Called (on the worker thread) with the outputs, or None and the error.
    """

    model: LoadedModel
    frame: pd.DataFrame
    done: Callable[[list[Output] | None, str | None, float], None]


@dataclass
class ShadowStats:
    """Counts for ``/metrics``."""

    scored: int = 0
    dropped: int = 0
    errors: int = 0


class ShadowRunner:
    """Scores shadow jobs on a worker thread.

    Args:
        max_queue: Jobs waiting at most (more are dropped).
        max_rows: Rows per scoring call at most.
    """

    def __init__(self, max_queue: int = 1_000, max_rows: int = 256):
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(max_queue)
        self.max_rows = max_rows
        self.stats = ShadowStats()
        self._thread: threading.Thread | None = None

    @property
    def depth(self) -> int:
        """Jobs waiting."""
        return self._queue.qsize()

    def offer(self, job: ShadowJob) -> bool:
        """Queue ``job`` without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.stats.dropped += 1
            return False
        return True

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._loop, name="shadow", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Score what waits (up to ``timeout``), then stop the thread."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while self._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            self._queue.put(None, timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Full:
            logger.warning("shadow queue not drained before shutdown: %d jobs", self.depth)
        self._thread.join(max(deadline - time.monotonic(), 0.1))

    def _take(self) -> list[ShadowJob] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs, rows = [first], len(first.frame)
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # seen again by the next take
                break
            jobs.append(job)
            rows += len(job.frame)
        return jobs

    def _loop(self) -> None:
        while (jobs := self._take()) is not None:
            by_model: dict[int, list[ShadowJob]] = {}
            for job in jobs:
                by_model.setdefault(id(job.model), []).append(job)
            for group in by_model.values():
                self._score(group)

    def _score(self, jobs: list[ShadowJob]) -> None:
        model = jobs[0].model
        started = time.perf_counter()
        try:
            frame = pd.concat([j.frame for j in jobs], ignore_index=True)
            outputs = model.outputs(model.score(frame))
            error = None
        except Exception as exc:  # the challenger failed: logged as its error, never raised
            outputs, error = None, f"{type(exc).__name__}: {exc}"[:2000]
            self.stats.errors += 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        offset = 0
        for job in jobs:
            n = len(job.frame)
            mine = None if outputs is None else outputs[offset : offset + n]
            offset += n
            try:
                job.done(mine, error, elapsed_ms)
            except Exception:  # a bug in the callback must not stop the shadow thread
                logger.exception("shadow callback failed")
        if error is None:
            self.stats.scored += offset
