"""The backtest's window groups as Prefect tasks (``compute.task_runner``: a Dask cluster)."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from retrainer.backtest.engine import GroupResult, replay_group
from retrainer.backtest.history import History
from retrainer.backtest.policies import PolicySpec
from retrainer.config import RetrainerConfig


@task(name="replay-window-group", cache_policy=NO_CACHE)
def replay_window_group(
    config: RetrainerConfig,
    history: History,
    specs: list[PolicySpec],
    days: list[date],
    initial_day: date,
) -> GroupResult:
    """Replay the policies of one training window over ``days`` (one Dask worker)."""
    return replay_group(config, history, specs, days, initial_day)
