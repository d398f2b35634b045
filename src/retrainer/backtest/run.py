"""A whole backtest: group the policies by window, replay the groups (in parallel), summarise."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from retrainer.backtest.engine import GroupResult, PolicyRun, replay_group
from retrainer.backtest.history import BacktestDataError, History
from retrainer.backtest.policies import PolicySpec
from retrainer.backtest.summary import (
    PolicySummary,
    Pricing,
    Recommendation,
    compare,
    frontier,
    recommend,
    summarise,
)
from retrainer.config import RetrainerConfig


@dataclass
class BacktestResult:
    """Everything a backtest found.

    Attributes:
        start: First replayed day.
        end: Last replayed day.
        metric: The metric followed.
        higher_is_better: Its direction.
        runs: Each policy's days, metric, retrains and decisions.
        rows: The table, in policy order.
        frontier: Names of the cost-metric frontier, cheapest first.
        recommendation: The cheapest policy meeting the target (None: none meets it).
        fits_requested: Retrains asked for over every policy (the first model included).
        fits_run: Models actually fitted (the rest were shared).
        fits_ahead: Of those, fitted ahead of the replay in another process.
        fits_ahead_unused: Fitted ahead for a schedule that a guard then held back (not used,
            not counted in ``fits_run``).
        seconds: Wall time of the replay.
        checks: Drift checks, monitoring runs and gates computed.
        excluded: Partitions never trained on or measured, with why.
        pricing: How costs and value were priced.
        ran_on: Where the window groups were replayed (``local``, or the runner's label).
    """

    start: date
    end: date
    metric: str
    higher_is_better: bool
    runs: list[PolicyRun]
    rows: list[PolicySummary]
    frontier: list[str]
    recommendation: Recommendation | None
    fits_requested: int
    fits_run: int
    seconds: float
    checks: dict[str, int]
    fits_ahead: int = 0
    fits_ahead_unused: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    pricing: Pricing | None = None
    ran_on: str = "local"

    @property
    def fits_shared(self) -> int:
        """Retrains served by a model another policy (or an earlier day) had fitted."""
        return self.fits_requested - self.fits_run

    def fits_text(self) -> str:
        """The fits in words: asked for, fitted (ahead, unused), shared."""
        ahead = ""
        if self.fits_ahead or self.fits_ahead_unused:
            ahead = f" ({self.fits_ahead:,} of them ahead of the replay"
            ahead += f", {self.fits_ahead_unused:,} more unused)" if self.fits_ahead_unused else ")"
        return (
            f"{self.fits_requested:,} retrains asked for, {self.fits_run:,} models fitted"
            f"{ahead}, {self.fits_shared:,} shared"
        )

    def row(self, name: str) -> PolicySummary:
        """The row of one policy."""
        return next(r for r in self.rows if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``--json``)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "policies": [r.to_dict() for r in self.rows],
            "frontier": self.frontier,
            "recommendation": self.recommendation.to_dict() if self.recommendation else None,
            "fits": {
                "requested": self.fits_requested,
                "run": self.fits_run,
                "shared": self.fits_shared,
                "fitted_ahead": self.fits_ahead,
                "fitted_ahead_unused": self.fits_ahead_unused,
            },
            "checks": self.checks,
            "seconds": round(self.seconds, 2),
            "ran_on": self.ran_on,
            "excluded_partitions": self.excluded,
            "retrains": {run.name: [r.to_dict() for r in run.retrains] for run in self.runs},
        }


def replay_days(history: History, start: date | None, end: date | None, warmup: int) -> list[date]:
    """The calendar days replayed: ``start`` (default: first day + warm-up) to ``end``.

    Raises:
        BacktestDataError: The range is empty or outside the history.
    """
    first, last = history.days[0], history.days[-1]
    start = start or first + timedelta(days=warmup)
    end = end or last
    if start <= first:
        raise BacktestDataError(
            f"--start {start}: the first model needs history before it (data starts {first})"
        )
    if end < start:
        raise BacktestDataError(f"--end {end} is before --start {start}")
    if start > last:
        raise BacktestDataError(f"--start {start} is after the last partition ({last})")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def pricing_for(config: RetrainerConfig) -> Pricing:
    """The pricing of a config's ``backtest`` and ``training`` sections."""
    from retrainer.metrics import get_metric

    section = config.backtest
    metric = section.metric or config.monitoring.metrics_for(config.model.task)[0]
    return Pricing(
        cost_per_retrain=section.cost_per_retrain,
        cost_per_hour=config.training.cost_per_hour,
        value_per_point_day=section.value_per_point_day,
        slo=section.slo,
        higher_is_better=get_metric(metric).greater_is_better,
        min_gain=section.min_gain,
    )


def _groups(specs: list[PolicySpec]) -> list[list[PolicySpec]]:
    groups: dict[str, list[PolicySpec]] = {}
    for spec in specs:
        groups.setdefault(spec.window_key(), []).append(spec)
    return list(groups.values())


def _workers(n_jobs: int, groups: int) -> tuple[int, int]:
    """Processes replaying window groups, and per group the processes fitting ahead."""
    import os

    processes = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    replaying = max(1, min(groups, processes))
    return replaying, max(0, processes - replaying) // replaying


#: Replays window groups elsewhere (a Dask cluster): ``(config, history, groups, days,
#: initial_day) -> results`` in any order, one per group.
GroupRunner = Callable[
    [RetrainerConfig, History, list[list[PolicySpec]], list[date], date], Iterable[GroupResult]
]


def _replay_here(
    config: RetrainerConfig,
    groups: list[list[PolicySpec]],
    history: History,
    days: list[date],
    initial: date,
    n_jobs: int,
    progress: Any,
) -> list[GroupResult]:
    """The groups replayed on this machine: in this process, or one process per group."""
    workers, ahead = _workers(n_jobs, len(groups))
    results: list[GroupResult] = []
    if workers == 1:
        for index, group in enumerate(groups):
            done = [0]

            def tick(index: int = index, done: list[int] = done) -> None:
                done[0] += 1
                if progress is not None:
                    progress(done[0], len(days), f"group {index + 1}/{len(groups)}: days")

            results.append(replay_group(config, history, group, days, initial, tick, ahead))
        return results
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    jobs = (delayed(replay_group)(config, history, g, days, initial, None, ahead) for g in groups)
    for count, result in enumerate(parallel(jobs), start=1):
        results.append(result)
        if progress is not None:
            progress(count, len(groups), "window groups")
    return results


def run_backtest(
    config: RetrainerConfig,
    history: History,
    specs: list[PolicySpec],
    start: date | None = None,
    end: date | None = None,
    *,
    n_jobs: int | None = None,
    progress: Any = None,
    decision_days: list[date] | None = None,
    first_model_day: date | None = None,
    runner: GroupRunner | None = None,
) -> BacktestResult:
    """Replay ``specs`` over ``history`` and summarise them.

    Args:
        config: The project config.
        history: The screened history (:func:`retrainer.backtest.history.load_history`).
        specs: The policies (names unique).
        start: First replayed day (default: first day + ``backtest.warmup_days``).
        end: Last replayed day (default: the last partition).
        n_jobs: Processes for the window groups (default ``backtest.n_jobs``).
        progress: ``progress(done, total, what)`` after each replayed day (one group) or
            each finished group (several), or None.
        decision_days: Decide on these days only (a continuous-training run on chosen days;
            the first model is trained the day before the first); default: every day.
        first_model_day: The day the shared first model is trained (default: the day before
            the first replayed day).
        runner: Replays the window groups elsewhere (``compute.task_runner: dask``); None:
            on this machine, with ``n_jobs`` processes.

    Raises:
        BacktestDataError: Bad range or names.
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise BacktestDataError("policy names must be unique")
    days = (
        sorted(decision_days)
        if decision_days
        else replay_days(history, start, end, config.backtest.warmup_days)
    )
    initial = first_model_day or days[0] - timedelta(days=1)
    groups = _groups(specs)
    started = time.perf_counter()
    if runner is None:
        n = n_jobs or config.backtest.n_jobs
        results = _replay_here(config, groups, history, days, initial, n, progress)
    else:
        results = []
        for count, result in enumerate(runner(config, history, groups, days, initial), 1):
            results.append(result)
            if progress is not None:
                progress(count, len(groups), "window groups")
    seconds = time.perf_counter() - started
    by_name = {run.name: run for result in results for run in result.runs}
    runs = [by_name[name] for name in names]
    pricing = pricing_for(config)
    rows = compare([summarise(run, pricing) for run in runs])
    checks: dict[str, int] = {}
    for result in results:
        for key, value in result.checks.items():
            checks[key] = checks.get(key, 0) + value
    return BacktestResult(
        start=days[0],
        end=days[-1],
        metric=config.backtest.metric or config.monitoring.metrics_for(config.model.task)[0],
        higher_is_better=pricing.higher_is_better,
        runs=runs,
        rows=rows,
        frontier=[r.name for r in frontier(rows, pricing.higher_is_better)],
        recommendation=recommend(rows, pricing),
        fits_requested=sum(r.fits_requested for r in results),
        fits_run=sum(r.fits_run for r in results),
        fits_ahead=sum(r.fits_ahead for r in results),
        fits_ahead_unused=sum(r.fits_ahead_unused for r in results),
        seconds=seconds,
        checks=checks,
        excluded={d.isoformat(): why for d, why in history.excluded.items()},
        pricing=pricing,
        ran_on=getattr(runner, "label", "elsewhere") if runner is not None else "local",
    )
