"""The ``backtest:`` section: replaying history through retraining policies (`retrainer backtest`).

A backtest replays the data day by day, with the real label delay, through a set of policies
and prices each one: retrains × cost against the metric they buy. The policy under test is
the ``policy:`` section (called ``current``); the others are the standard set (never, fixed
cadences, drift, performance, hybrid, and an oracle when the ground truth is known) or a
``--policies`` file. ``sweep`` lists the grid the recommendation searches.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from retrainer.config.base import StrictModel


class SweepSection(StrictModel):
    """The grid `retrainer backtest --sweep` searches for the cheapest policy meeting the SLO."""

    cadences: list[str] = Field(
        default_factory=lambda: ["0 0 * * *", "0 0 */3 * *", "0 0 * * 0"],
        description="Cron expressions of fixed-cadence policies.",
    )
    drift_consecutive: list[int] = Field(
        default_factory=lambda: [1, 2, 3],
        description="Drift-triggered variants: drifted checks in a row before firing.",
    )
    performance_drops: list[float] = Field(
        default_factory=lambda: [0.01, 0.02, 0.04],
        description="Performance-triggered variants: drop of the monitored metric below the "
        "champion's holdout value that fires (realised or estimated).",
    )
    cooldown_hours: list[float] = Field(
        default_factory=lambda: [24.0, 72.0],
        description="Cooldowns of the triggered variants.",
    )
    window_days: list[int] = Field(
        default_factory=lambda: [30, 60],
        description="Training-window lengths (a fixed window; the window is a hyperparameter "
        "of every variant).",
    )

    @field_validator("window_days", "drift_consecutive")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("every entry must be at least 1")
        return values


class BacktestSection(StrictModel):
    """How a backtest measures and prices the policies it replays."""

    metric: str | None = Field(
        default=None,
        description="Metric followed over time (default: the monitoring section's primary).",
    )
    slo: float | None = Field(
        default=None,
        description="Service level of the metric (at least this, or at most for a metric "
        "where lower is better); days beyond it are counted and the recommendation must meet "
        "it on average. Default: none (the recommendation maximises net value).",
    )
    cost_per_retrain: float | None = Field(
        default=None,
        ge=0,
        description="Cost of one retrain (any currency). Default: measured training seconds "
        "× `training.cost_per_hour`.",
    )
    value_per_point_day: float = Field(
        default=0.0,
        ge=0,
        description="Business value of one metric point (0.01) held for one day, in the "
        "currency of the costs; with 0 the ROI compares costs only.",
    )
    min_gain: float = Field(
        default=0.002,
        ge=0,
        description="A promoted retrain whose model beats the one it replaced by less than "
        "this on the next 7 days' rows (hindsight) is counted as waste, as is one whose gate "
        "failed.",
    )
    warmup_days: int = Field(
        default=28,
        ge=1,
        description="Days at the start of the history that train the first model (default "
        "`--start`); every policy starts from that model.",
    )
    oracle_step_days: int = Field(
        default=7,
        ge=1,
        description="The oracle retrains this many days after a ground-truth change's labels "
        "are in and past the gate holdout, and again every this many days until its training "
        "window holds only data from after the change.",
    )
    n_jobs: int = Field(
        default=2,
        description="Processes for the replay (-1: every core). Policies on the same window "
        "share their fits in one process; groups on different windows run in parallel, and "
        "processes left over fit the days a schedule falls due ahead of the replay.",
    )
    sweep: SweepSection = Field(default_factory=SweepSection, description="The grid of `--sweep`.")

    @field_validator("n_jobs")
    @classmethod
    def _jobs(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("n_jobs is a positive number of processes, or -1 for every core")
        return value
