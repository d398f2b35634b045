"""Drift within segments: each value combination of the segment columns on its own (no IO).

A feature can hold steady overall while it moves in one region or one channel; the overall
check averages that away. :func:`check_shard` compares each segment of a window with the
same segment of the baseline data, feature by feature, with the project's drift settings.
It is written for fan-out: the segments are cut into shards (:func:`shard`), and each shard
streams the baseline and the window once, keeping the baseline rows of its own segments and
a sketch per segment of the window, so a task's memory is its shard's baseline rows plus one
batch — not the window.

Order of a shard's work: count the baseline rows of each of its segments; fit one detector
per segment with at least ``min_rows`` baseline rows; stream the window into one
:class:`~retrainer.drift.detector.DriftStream` per fitted segment; a segment with fewer than
``min_rows`` window rows (or baseline rows) is ``too_few_rows``, never a verdict.

p-value tests are corrected over a segment's columns, not over segments; the default deciding
metrics are distances (PSI, normalised Wasserstein, JS), which many segments do not inflate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from retrainer.drift.check import DriftCheckError, day_scores
from retrainer.drift.detector import DriftDetector, DriftStream
from retrainer.events import json_safe
from retrainer.gates.checks import MISSING_SEGMENT

SegmentStatus = Literal["drift", "ok", "too_few_rows"]


class SegmentDriftError(DriftCheckError):
    """A segment check that cannot run (too many segments, a missing segment column ...)."""


def _as_text(series: pd.Series) -> pd.Series:
    """Segment values as text, the same in every batch: a whole float is written as an int.

    A Parquet integer column comes back as float64 in a file that has a null, so ``3`` and
    ``3.0`` must name one segment.
    """
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(values) & (values == np.round(values))
        text = series.astype("string")
        text[whole] = pd.Series(values[whole].astype(np.int64), index=series.index[whole]).astype(
            "string"
        )
        return text.fillna(MISSING_SEGMENT).astype(str)
    return series.astype("string").fillna(MISSING_SEGMENT).astype(str)


def segment_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Each row's segment as text: ``region=north`` or ``region=north, channel=web``.

    Each part is :func:`retrainer.monitoring.performance.segment_key`'s ``column=value``; a
    missing value is ``<missing>`` (as in the gate's segment checks).

    Raises:
        SegmentDriftError: A segment column is missing from the frame.
    """
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise SegmentDriftError(f"segment column(s) {absent} are missing from the data")
    parts = [f"{column}=" + _as_text(frame[column]) for column in columns]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ", " + part
    return labels.astype(str)


def count_segments(batches: Iterable[pd.DataFrame], columns: list[str]) -> dict[str, int]:
    """Rows per segment over a stream of frames."""
    counts: dict[str, int] = {}
    for batch in batches:
        for label, n in segment_labels(batch, columns).value_counts().items():
            counts[str(label)] = counts.get(str(label), 0) + int(n)
    return counts


def shard(segments: Iterable[str], size: int) -> list[list[str]]:
    """The segments (sorted) cut into shards of at most ``size``."""
    ordered = sorted(segments)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def plan_segments(
    reference: dict[str, int], current: dict[str, int], max_segments: int, columns: list[str]
) -> list[str]:
    """Every segment seen in the baseline or the window, checked against ``max_segments``.

    Raises:
        SegmentDriftError: More segments than ``max_segments`` (the message names the columns).
    """
    segments = sorted(set(reference) | set(current))
    if len(segments) > max_segments:
        raise SegmentDriftError(
            f"drift.segments.columns {columns} make {len(segments):,} segments, more than "
            f"drift.segments.max_segments ({max_segments:,}): choose coarser columns or raise "
            "the limit"
        )
    return segments


@dataclass
class SegmentDrift:
    """One segment's comparison.

    Attributes:
        segment: The segment label.
        n_reference: Its rows in the baseline data.
        n_current: Its rows in the window.
        status: ``drift``, ``ok`` or ``too_few_rows``.
        drifted_columns: Features that drifted in it.
        scores: Per feature: the headline metric, its value and threshold, the status.
    """

    segment: str
    n_reference: int
    n_current: int
    status: SegmentStatus
    drifted_columns: list[str] = field(default_factory=list)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return json_safe(
            {
                "segment": self.segment,
                "reference_rows": self.n_reference,
                "rows": self.n_current,
                "status": self.status,
                "drifted_columns": list(self.drifted_columns),
                "scores": self.scores,
            }
        )


def _split(
    batch: pd.DataFrame, columns: list[str], wanted: set[str]
) -> Iterable[tuple[str, pd.DataFrame]]:
    labels = segment_labels(batch, columns)
    keep = labels.isin(wanted)
    if not keep.any():
        return []
    return ((str(label), part) for label, part in batch[keep].groupby(labels[keep], sort=False))


def check_shard(
    segments: list[str],
    columns: list[str],
    make_detector: Callable[[], DriftDetector],
    reference: Iterable[pd.DataFrame],
    current: Iterable[pd.DataFrame],
    min_rows: int,
) -> list[SegmentDrift]:
    """Compare each of ``segments`` in the window with the same segment of the baseline data.

    Args:
        segments: The shard's segment labels (:func:`segment_labels`).
        columns: The segment columns.
        make_detector: A new, unfitted detector of the checked features.
        reference: The baseline data, as a stream of frames.
        current: The window, as a stream of frames.
        min_rows: Fewest rows, on each side, for a verdict.

    Returns:
        One result per segment, in ``segments`` order.
    """
    wanted = set(segments)
    kept: dict[str, list[pd.DataFrame]] = {s: [] for s in segments}
    for batch in reference:
        for label, part in _split(batch, columns, wanted):
            kept[label].append(part)
    n_reference = {s: sum(len(p) for p in parts) for s, parts in kept.items()}
    streams: dict[str, DriftStream] = {}
    for label, parts in kept.items():
        if n_reference[label] >= min_rows:
            frame = pd.concat(parts, ignore_index=True)
            try:
                streams[label] = make_detector().fit(frame).stream()
            except ValueError as exc:
                raise SegmentDriftError(f"segment {label}: {exc}") from exc
        kept[label] = []  # the baseline rows are in the profile now
    n_current = dict.fromkeys(segments, 0)
    for batch in current:
        for label, part in _split(batch, columns, wanted):
            n_current[label] += len(part)
            if label in streams:
                streams[label].add(part)
    results = []
    for label in segments:
        if label not in streams or n_current[label] < min_rows:
            few = SegmentDrift(label, n_reference[label], n_current[label], "too_few_rows")
            results.append(few)
            continue
        report = streams[label].report()
        scores = {c: s.to_dict() for c, s in day_scores(report).items()}
        results.append(
            SegmentDrift(
                label,
                n_reference[label],
                n_current[label],
                "drift" if report.drifted else "ok",
                list(report.drifted_columns),
                scores,
            )
        )
    return results


@dataclass
class SegmentSummary:
    """Every segment's comparison of one window.

    Attributes:
        columns: The segment columns.
        results: One per segment, sorted by label.
        decides: Whether a drifted segment makes the window verdict drift.
        shards: Tasks the check ran as.
        runner: Where they ran (``local`` or ``dask``).
    """

    columns: list[str]
    results: list[SegmentDrift]
    decides: bool = True
    shards: int = 1
    runner: str = "local"

    @property
    def drifted(self) -> list[SegmentDrift]:
        """The drifted segments."""
        return [r for r in self.results if r.status == "drift"]

    @property
    def drifted_features(self) -> list[str]:
        """Features that drifted in at least one segment, sorted."""
        return sorted({c for r in self.drifted for c in r.drifted_columns})

    def headline(self, limit: int = 3) -> str:
        """The drifted segments in words, e.g. ``region=north: income; 2 more``."""
        if not self.drifted:
            return "no segment drifted"
        words = [f"{r.segment}: {', '.join(r.drifted_columns)}" for r in self.drifted[:limit]]
        more = len(self.drifted) - limit
        return "; ".join(words) + (f"; {more} more" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        counts = {s: sum(r.status == s for r in self.results) for s in ("drift", "ok")}
        return {
            "columns": list(self.columns),
            "segments": len(self.results),
            "drifted": counts["drift"],
            "checked": counts["drift"] + counts["ok"],
            "too_few_rows": len(self.results) - counts["drift"] - counts["ok"],
            "decides": self.decides,
            "shards": self.shards,
            "runner": self.runner,
            "drifted_segments": [
                {"segment": r.segment, "columns": r.drifted_columns} for r in self.drifted
            ],
            "results": [r.to_dict() for r in self.results],
        }
