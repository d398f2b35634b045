"""The ``segment_upsample`` window: give weak segments more weight.

The base window is the last ``days`` days (like ``fixed``). The champion's live metric is
measured per segment on the last ``lookback_days`` of the history, whose labels are the most
recent evidence of how it serves each segment. A segment (one value of one segment column) with
at least ``min_support`` rows is weak when its metric is worse than ``threshold``, or, without
a threshold, worse than the champion's overall metric on the lookback rows by more than
``min_gap``. Rows of the base window in a weak segment get sample weight ``factor`` (once,
even when a row falls in several weak segments); the others keep weight 1.

Without a champion, a stand-in is fitted on the ``days`` days before the lookback window and
measured on the lookback rows, as a champion trained just before them would be; in-sample
metrics of a model fitted on the lookback rows themselves would hide exactly the weakness this
strategy looks for. When no stand-in can be fitted either, nothing is boosted (recorded as
``measured_with: none`` with the reason).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.training import SegmentUpsampleWindow
from retrainer.metrics import get_metric
from retrainer.training.context import (
    WindowContext,
    date_span,
    last_days,
    require_trainable,
    row_dates,
)
from retrainer.training.evaluation import (
    fit_quick,
    metric_value,
    prepared_outputs,
    resolve_metric,
)
from retrainer.training.trainer import TrainingDataError, TrainingSet


def segment_upsample_window(strategy: SegmentUpsampleWindow, ctx: WindowContext) -> TrainingSet:
    """The base window with weak segments' rows weighted ``factor`` times.

    Args:
        strategy: Base window, segment columns, metric, weakness rule and factor.
        ctx: Config, labelled history and the champion (if any).

    Returns:
        The base window; ``sample_weight`` is None when no segment is weak. ``details`` holds
        ``boosted`` (``column=value`` items joined by ``;``), ``boosted_rows``, ``metric``,
        ``overall`` (the overall lookback metric), ``measured_with`` (champion, stand-in or
        none) and ``segment_metrics`` ({``column=value``: metric} of the measured segments).

    Raises:
        TrainingDataError: When the base window cannot train a model or a segment column is
            missing from the data.
    """
    cfg = ctx.config
    ts = cfg.columns.timestamp
    history = ctx.history
    frame = last_days(history, ts, strategy.days)
    if frame.empty:
        raise TrainingDataError("segment_upsample window: the history holds no labelled rows")
    require_trainable(frame, cfg, "segment_upsample")
    start, end = date_span(frame, ts)
    columns = (
        strategy.segment_columns if strategy.segment_columns is not None else cfg.columns.segments
    )
    missing = [c for c in columns if c not in history.columns]
    if missing:
        raise TrainingDataError(f"segment_upsample window: segment column(s) {missing} not found")
    metric = resolve_metric(strategy.metric, cfg)
    details: dict[str, Any] = {
        "start": start,
        "end": end,
        "days": strategy.days,
        "metric": metric,
        "lookback_days": strategy.lookback_days,
        "factor": strategy.factor,
        "segment_columns": ",".join(columns),
    }

    lookback = last_days(history, ts, strategy.lookback_days)
    model, measured_with, reason = _measuring_model(strategy, ctx, lookback, bool(columns))
    details["measured_with"] = measured_with
    if model is None:
        details.update(boosted="", boosted_rows=0, reason=reason)
        return TrainingSet(frame=frame, strategy="segment_upsample", details=details)

    try:
        inputs = prepared_outputs(model, lookback, cfg)
    except (KeyError, ValueError) as exc:  # e.g. a champion of other columns, an unseen class
        reason = f"cannot score the lookback rows with the {measured_with}: {exc}"
        details.update(measured_with="none", boosted="", boosted_rows=0, reason=reason)
        return TrainingSet(frame=frame, strategy="segment_upsample", details=details)
    overall = metric_value(metric, inputs)
    spec = get_metric(metric)
    segment_metrics: dict[str, float] = {}
    weak: list[tuple[str, Any]] = []
    for column in columns:
        values = lookback[column].to_numpy()
        for value in pd.unique(lookback[column].dropna()):
            rows = values == value
            if rows.sum() < strategy.min_support:
                continue
            result = metric_value(metric, inputs, rows)
            if result is None:
                continue
            segment_metrics[f"{column}={value}"] = result
            if strategy.threshold is not None:
                is_weak = spec.orient(strategy.threshold - result) > 0
            else:
                is_weak = overall is not None and spec.orient(overall - result) > strategy.min_gap
            if is_weak:
                weak.append((column, value))

    boost = np.zeros(len(frame), dtype=bool)
    for column, value in weak:
        boost |= (frame[column] == value).to_numpy(dtype=bool, na_value=False)
    weights = np.where(boost, strategy.factor, 1.0) if boost.any() else None
    details.update(
        overall=overall,
        boosted=";".join(f"{c}={v}" for c, v in weak),
        boosted_rows=int(boost.sum()),
        segment_metrics=segment_metrics,
    )
    if not weak:
        details["reason"] = (
            "no segment below the threshold"
            if strategy.threshold is not None
            else (f"no segment worse than the overall {metric} by more than {strategy.min_gap}")
        )
    return TrainingSet(
        frame=frame, sample_weight=weights, strategy="segment_upsample", details=details
    )


def _measuring_model(
    strategy: SegmentUpsampleWindow,
    ctx: WindowContext,
    lookback: pd.DataFrame,
    has_segments: bool,
) -> tuple[Any | None, str, str | None]:
    """The model whose live metric is measured: ``(model, measured_with, reason if None)``."""
    if not has_segments:
        return None, "none", "no segment columns (set segment_columns or columns.segments)"
    if ctx.champion is not None:
        return ctx.champion, "champion", None
    ts = ctx.config.columns.timestamp
    dates = row_dates(ctx.history, ts)
    lookback_start, _ = date_span(lookback, ts)
    before = ctx.history.loc[dates < lookback_start]
    if strategy.days is not None and not before.empty:
        before = before.loc[row_dates(before, ts) >= lookback_start - timedelta(days=strategy.days)]
    try:
        return fit_quick(before, ctx.config), "stand-in", None
    except TrainingDataError as exc:
        return None, "none", f"no champion, and no stand-in model before the lookback: {exc}"
