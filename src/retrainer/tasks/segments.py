"""Tasks of the segment drift check: plan the shards, check one shard (streamed reads).

The statistics live in :mod:`retrainer.drift.segments`. A shard task reads the features
table itself, one row group at a time (``compute.batch_rows`` rows per chunk), so what
crosses to a Dask worker is the project, the shard's labels and the days; what comes back is
one small result per segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from retrainer.data import DataCatalog
from retrainer.drift import DriftDetector
from retrainer.drift.segments import (
    SegmentDrift,
    count_segments,
    plan_segments,
    shard,
)
from retrainer.drift.segments import check_shard as check_segment_shard
from retrainer.project import Project


def segment_features(project: Project) -> tuple[list[str], list[str]]:
    """The numeric and categorical features checked within segments (not the segment columns)."""
    cols, segments = project.config.columns, set(project.config.drift.segments.columns)
    return (
        [c for c in cols.numeric if c not in segments],
        [c for c in cols.categorical if c not in segments],
    )


def _batches(project: Project, columns: list[str], days: list[date]) -> Iterator[pd.DataFrame]:
    catalog = DataCatalog.for_project(project)
    batch_rows = project.config.compute.batch_rows
    yield from catalog.features.iter_batches(columns=columns, batch_size=batch_rows, dates=days)


@task(name="plan-segment-drift", cache_policy=NO_CACHE)
def plan_segment_shards(
    project: Project, reference_days: list[date], current_days: list[date]
) -> list[list[str]]:
    """The segments seen in the baseline data or the window, cut into shards.

    Raises:
        SegmentDriftError: More segments than ``drift.segments.max_segments``.
    """
    section = project.config.drift.segments
    reference = count_segments(_batches(project, section.columns, reference_days), section.columns)
    current = count_segments(_batches(project, section.columns, current_days), section.columns)
    segments = plan_segments(reference, current, section.max_segments, section.columns)
    return shard(segments, section.shard_size)


@task(name="segment-drift-shard", cache_policy=NO_CACHE)
def segment_drift_shard(
    project: Project, segments: list[str], reference_days: list[date], current_days: list[date]
) -> list[SegmentDrift]:
    """Each of ``segments`` in the window against the same segment of the baseline days."""
    cfg = project.config
    section = cfg.drift.segments
    numeric, categorical = segment_features(project)
    columns = list(dict.fromkeys([*numeric, *categorical, *section.columns]))
    return check_segment_shard(
        segments,
        section.columns,
        lambda: DriftDetector(numeric=numeric, categorical=categorical, config=cfg.drift),
        _batches(project, columns, reference_days),
        _batches(project, columns, current_days),
        section.min_rows,
    )
