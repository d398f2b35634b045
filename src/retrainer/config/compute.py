"""The ``compute:`` section: where the parallel parts of a run execute.

Two parts fan out: the per-segment drift check (``drift.segments``, one task per shard of
segments) and the backtest's window groups (``retrainer backtest``, one task per group of
policies sharing a training window). By default they run on this machine (threads for the
drift shards, processes for the backtest groups); ``task_runner: {kind: dask}`` sends both
to a Dask cluster through Prefect's ``DaskTaskRunner`` (``pip install 'retrainer[dask]'``),
either a ``LocalCluster`` started for the run or an existing scheduler. The package is
needed only where the fan-out starts (the drift flow with segments, ``retrainer backtest``):
a gateway or a webhook receiver reading the same config does not need it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from retrainer.config.base import StrictModel


class LocalRunner(StrictModel):
    """Run the fan-out on this machine."""

    kind: Literal["local"] = Field(default="local", description="This machine.")
    max_workers: int | None = Field(
        default=None,
        ge=1,
        description="Threads for the segment drift shards (null: the CPU count). The backtest "
        "keeps `backtest.n_jobs` processes.",
    )


class DaskRunner(StrictModel):
    """Run the fan-out on a Dask cluster through ``prefect_dask.DaskTaskRunner``."""

    kind: Literal["dask"] = Field(description="A Dask cluster.")
    address: str | None = Field(
        default=None,
        description="Scheduler address of a running cluster (`tcp://scheduler:8786`); null "
        "starts a `distributed.LocalCluster` for the run and closes it after.",
    )
    n_workers: int = Field(
        default=2, ge=1, description="Workers of the LocalCluster (ignored with `address`)."
    )
    threads_per_worker: int = Field(
        default=1, ge=1, description="Threads per LocalCluster worker (ignored with `address`)."
    )
    memory_limit: str = Field(
        default="auto",
        description="Memory limit per LocalCluster worker, e.g. `4GiB` (`auto`: the "
        "machine's memory shared by the workers; ignored with `address`).",
    )


TaskRunnerConfig = Annotated[LocalRunner | DaskRunner, Field(discriminator="kind")]


class ComputeSection(StrictModel):
    """Where the segment drift shards and the backtest groups run, and how windows stream."""

    task_runner: TaskRunnerConfig = Field(
        default_factory=LocalRunner,
        description="`{kind: local}` (default) or `{kind: dask, address | n_workers, ...}`.",
    )

    @field_validator("task_runner", mode="before")
    @classmethod
    def _local_by_default(cls, value: Any) -> Any:
        # `task_runner: {max_workers: 4}` is the local runner (kind defaults to local)
        if isinstance(value, dict) and "kind" not in value:
            return {**value, "kind": "local"}
        return value

    batch_rows: int = Field(
        default=100_000,
        ge=1_000,
        description="Rows per chunk when a window is streamed (the drift check's days and the "
        "segment shards): Parquet files are read one row group at a time (from S3 by ranged "
        "GETs), so memory holds about one chunk per task whatever the window's size.",
    )
