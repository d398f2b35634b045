"""The backtest's window groups on ``compute.task_runner`` (a Dask cluster), as a flow run.

``retrainer backtest`` replays on this machine by default (processes, no Prefect server);
with ``compute.task_runner: {kind: dask}`` it hands the window groups to
:func:`group_runner`, whose flow run submits one ``replay-window-group`` task per group to
Prefect's ``DaskTaskRunner``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date

from prefect import flow

from retrainer.backtest.engine import GroupResult
from retrainer.backtest.history import History
from retrainer.backtest.policies import PolicySpec
from retrainer.config import RetrainerConfig
from retrainer.config.compute import ComputeSection
from retrainer.tasks.backtest import replay_window_group
from retrainer.tasks.compute import runner_label, task_runner, workers_on_this_api


class FlowGroupRunner:
    """A :data:`retrainer.backtest.run.GroupRunner` that replays the groups in a flow run.

    Raises:
        ComputeSetupError: The task runner cannot be built here (prefect-dask missing).
    """

    def __init__(self, compute: ComputeSection):
        self.compute = compute
        self.label = runner_label(compute)
        self.task_runner = task_runner(compute)  # built now: a missing package fails first

    def __call__(
        self,
        config: RetrainerConfig,
        history: History,
        groups: list[list[PolicySpec]],
        days: list[date],
        initial_day: date,
    ) -> Iterator[GroupResult]:
        """Replay each group as a task of one ``backtest-groups`` flow run."""

        # The history travels to the tasks as an argument (pickled to the workers), not as a
        # flow parameter: flow parameters are stored on the server as JSON.
        @flow(name="backtest-groups", task_runner=self.task_runner, log_prints=True)
        def backtest_groups() -> list[GroupResult]:
            futures = [
                replay_window_group.submit(config, history, group, days, initial_day)
                for group in groups
            ]
            return [future.result() for future in futures]

        with warnings.catch_warnings():
            # the history goes to each group's task on purpose (one pickle per group): Dask's
            # "Sending large graph" advice is about data it could load itself
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            with workers_on_this_api(self.compute):
                results = backtest_groups()
        yield from results


def group_runner(compute: ComputeSection) -> FlowGroupRunner | None:
    """The runner of ``compute`` for the backtest; None: replay on this machine.

    Raises:
        ComputeSetupError: ``kind: dask`` without prefect-dask installed.
    """
    return FlowGroupRunner(compute) if compute.task_runner.kind == "dask" else None
