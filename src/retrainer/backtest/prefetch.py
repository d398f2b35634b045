"""Fits run ahead of the replay in worker processes: the days a schedule retrains on.

A training job is defined by its day alone (the rows labelled by then, in the window), unless
the window builds on the champion (``warm_start``, ``segment_upsample``). The days on which a
group's schedule triggers fall due are known before the replay starts, so their fits run in
forked worker processes (the history is shared, not copied) while the main process replays,
decides and gates; when the main process would wait for a worker, it fits the next planned
day itself. The replay uses a fit from ahead only when a policy asks for exactly that job
(same key); one no policy asked for (a guard held the retrain back) is counted as unused. A
fit from ahead is the model the replay would have fitted itself: same rows, config and seed.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import Any

CHAMPION_WINDOWS = frozenset({"warm_start", "segment_upsample"})
"""Window kinds whose training set depends on the serving model: never fitted ahead."""

_BENCH: dict[str, Any] = {}  # the workbench of a worker process (inherited by fork)


def schedule_days(specs: Iterable[Any], days: list[date], initial_day: date) -> list[date]:
    """Days on which a policy's schedule trigger falls due, guards aside (sorted).

    The schedule trigger's own rule (:func:`retrainer.policy.clock.next_occurrence` after the
    last retrain), with every due day taken as a retrain.
    """
    from retrainer.policy.clock import end_of_day, next_occurrence

    due: set[date] = set()
    for spec in specs:
        for trigger in spec.policy.leaf_triggers():
            if trigger.kind != "schedule":
                continue
            last = end_of_day(initial_day)
            for day in days:
                if next_occurrence(trigger.cron, trigger.timezone, last) <= end_of_day(day):
                    due.add(day)
                    last = end_of_day(day)
    return sorted(due)


def _start_worker(bench: Any) -> None:
    _BENCH["bench"] = bench


def _fit_ahead(day: date) -> Any:
    return _BENCH["bench"].train(day, None)


NOT_PLANNED = object()
"""What :meth:`Prefetcher.result` returns for a day it holds no fit of."""


class Prefetcher:
    """Fits of planned days, a few days ahead of the replay, in worker processes.

    The replay process does not sit idle while a worker is still fitting the day it needs:
    it fits the next planned day no worker has started yet, and keeps it for when the replay
    gets there (work stealing), so both processes stay busy.

    Args:
        bench: The group's :class:`~retrainer.backtest.engine.Workbench` (forked, not pickled).
        days: The planned days, in order.
        workers: Worker processes.
        ahead: Fits in flight at most (default: two per worker).
    """

    def __init__(self, bench: Any, days: list[date], workers: int, ahead: int | None = None):
        context = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(bench,)
        )
        self._queue = deque(days)
        self._pending: dict[date, Future] = {}
        self._here: dict[date, Any] = {}  # fitted by the replay process while it waited
        self._ahead = ahead or 2 * workers
        self.used = 0
        self.unused = 0
        self.closed = False

    def advance(self, today: date) -> None:
        """Start the fits of the next planned days (from ``today`` on), up to ``ahead``."""
        if self.closed:
            return
        for day in [d for d in self._pending if d < today]:
            self._drop(day)
        for day in [d for d in self._here if d < today]:
            del self._here[day]
            self.unused += 1
        while self._queue and self._queue[0] < today:
            self._queue.popleft()
        while self._queue and len(self._pending) < self._ahead:
            day = self._queue.popleft()
            self._pending[day] = self._pool.submit(_fit_ahead, day)

    def result(self, day: date, fit_here: Callable[[date], Any]) -> Any:
        """The fit of ``day`` made ahead, or :data:`NOT_PLANNED`.

        While a worker is still on it, ``fit_here`` fits the next planned day nobody has
        started. A worker that died (out of memory) closes the prefetcher: the replay then
        fits in its own process.
        """
        if self.closed:
            return NOT_PLANNED
        if day in self._here:
            return self._here.pop(day)
        future = self._pending.pop(day, None)
        if future is None:
            return NOT_PLANNED
        while not future.done() and self._queue:
            spare = self._queue.popleft()
            self._here[spare] = fit_here(spare)
        try:
            return future.result()
        except BrokenProcessPool:
            self.close()
            return NOT_PLANNED

    def _drop(self, day: date) -> None:
        future = self._pending.pop(day)
        if not future.cancel():
            self.unused += 1

    def close(self) -> None:
        """Stop the workers; fits still pending are cancelled or counted as unused."""
        if self.closed:
            return
        self.closed = True
        for day in list(self._pending):
            self._drop(day)
        self.unused += len(self._here)
        self._here.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
