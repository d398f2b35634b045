"""Shadow scoring off the request path: a bounded queue and one worker thread.

The champion answers; the challenger's scoring of the same rows is only queued
(:meth:`ShadowRunner.offer`, which never blocks). A worker thread takes what waits, scores it
in batches per model and hands each job its outputs or its error. When the queue is full the
job is dropped and counted: a slow or failing challenger can fall behind, never slow down or
break an answer. The thread also keeps a sleeping challenger (one that blocks in ``predict``)
off the event loop.

Where the scoring itself runs is the scorer's business: :class:`InlineScorer` on the worker
thread (simple; shares the interpreter lock with the event loop, so a busy challenger slows
the champion's answers down), :class:`ProcessScorer` in a child process with its own copy of
the challenger (its own interpreter lock, the machine's next core): what ``retrainer serve``
uses.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from retrainer.serving.models import LoadedModel, Output

logger = logging.getLogger(__name__)


@dataclass
class ShadowJob:
    """The rows a challenger must score, and what to do with the outcome.

    Attributes:
        model: The challenger.
        columns: The checked input columns.
        rows: How many rows.
        done: Called (on the worker thread) with the outputs, or None and the error.
    """

    model: LoadedModel
    columns: dict[str, list[Any]]
    rows: int
    done: Callable[[list[Output] | None, str | None, float], None]


class Scorer(Protocol):
    """Scores a challenger's batch (on the shadow thread)."""

    def score(self, model: LoadedModel, parts: list[dict[str, list[Any]]]) -> list[Output]:
        """The outputs of the rows of ``parts`` (the checked columns of several requests)."""

    def prepare(self, version: str) -> None:
        """Get ready to score ``version`` (load it ahead of its first batch)."""

    def close(self) -> None:
        """Release what the scorer holds."""


class InlineScorer:
    """Scores on the calling thread with the gateway's own copy of the model."""

    def score(self, model: LoadedModel, parts: list[dict[str, list[Any]]]) -> list[Output]:
        """The outputs of ``parts``."""
        return model.outputs(model.score(model.frame_of(parts)))

    def prepare(self, version: str) -> None:
        """Nothing to prepare: the gateway loaded the model."""

    def close(self) -> None:
        """Nothing to release."""


_LOADER: Callable[[str], LoadedModel] | None = None
_LOADED: dict[str, LoadedModel] = {}


def _init_child(factory: Callable[..., Callable[[str], LoadedModel]], *args: Any) -> None:
    global _LOADER
    _LOADER = factory(*args)


def _child_model(version: str) -> LoadedModel:
    if version not in _LOADED:
        assert _LOADER is not None, "the shadow process was not initialised"
        _LOADED.clear()  # one challenger at a time
        _LOADED[version] = _LOADER(version)
    return _LOADED[version]


def _child_prepare(version: str) -> bool:
    _child_model(version)
    return True


def _child_score(version: str, parts: list[dict[str, list[Any]]]) -> list[tuple[Any, Any]]:
    model = _child_model(version)
    return [(o.label, o.score) for o in model.outputs(model.score(model.frame_of(parts)))]


class ProcessScorer:
    """Scores in a child process that loads the challenger itself (``spawn``, one worker).

    Args:
        factory: Module-level function returning a loader (``version -> LoadedModel``) in
            the child; called there once with ``args``.
        *args: Its (picklable) arguments.
    """

    def __init__(self, factory: Callable[..., Callable[[str], LoadedModel]], *args: Any):
        self._factory, self._args = factory, args
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child,
            initargs=(self._factory, *self._args),
        )

    def score(self, model: LoadedModel, parts: list[dict[str, list[Any]]]) -> list[Output]:
        """The outputs of ``parts``, scored in the child (a dead child is started again)."""
        try:
            pairs = self._pool.submit(_child_score, model.version, parts).result()
        except BrokenProcessPool:
            self._pool = self._start()
            raise
        return [Output(label, score) for label, score in pairs]

    def prepare(self, version: str) -> None:
        """Load ``version`` in the child now (its first batch would wait for it otherwise)."""
        try:
            self._pool.submit(_child_prepare, version)
        except (BrokenProcessPool, RuntimeError):
            self._pool = self._start()

    def close(self) -> None:
        """Stop the child."""
        self._pool.shutdown(wait=True, cancel_futures=True)


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
        scorer: Where the scoring runs (default: :class:`InlineScorer`, on the thread).
        gather_seconds: How long a batch may gather after its first job.
    """

    def __init__(
        self,
        max_queue: int = 1_000,
        max_rows: int = 256,
        scorer: Scorer | None = None,
        gather_seconds: float = 0.05,
    ):
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(max_queue)
        self.max_rows = max_rows
        self.gather_seconds = gather_seconds
        self.stats = ShadowStats()
        self.scorer: Scorer = scorer or InlineScorer()
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
        self.scorer.close()

    def _take(self) -> list[ShadowJob] | None:
        """The next batch: jobs gathered for up to ``gather_seconds`` after the first one.

        A shadow answer is not waited for, so the batch may fill: fewer, larger calls cost
        the challenger far less CPU (a pipeline costs about the same per call for 1 row or 100).
        """
        first = self._queue.get()
        if first is None:
            return None
        jobs, rows = [first], first.rows
        # one sleep, then take what came: waking up for every job would take the
        # interpreter lock from the event loop hundreds of times a second
        time.sleep(self.gather_seconds)
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # seen again by the next take
                break
            jobs.append(job)
            rows += job.rows
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
            outputs = self.scorer.score(model, [j.columns for j in jobs])
            error = None
        except Exception as exc:  # the challenger failed: logged as its error, never raised
            outputs, error = None, f"{type(exc).__name__}: {exc}"[:2000]
            self.stats.errors += 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        offset = 0
        for job in jobs:
            n = job.rows
            mine = None if outputs is None else outputs[offset : offset + n]
            offset += n
            try:
                job.done(mine, error, elapsed_ms)
            except Exception:  # a bug in the callback must not stop the shadow thread
                logger.exception("shadow callback failed")
        if error is None:
            self.stats.scored += offset
