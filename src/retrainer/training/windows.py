"""Window strategies: which labelled rows (and weights) a training run uses.

Every strategy is a pure function ``(strategy config, WindowContext) -> TrainingSet``; none
touches Prefect, MLflow or storage. The history they receive already excludes the gate holdout
and quarantined batches, so no strategy can train on either. Days are calendar days counted
back from the newest event date of the history.

* ``fixed``: the last N days (all history when N is null).
* ``dynamic``: N chosen on a validation window (:mod:`retrainer.training.dynamic_window`).
* ``history_plus_recent``: every recent row plus a uniform sample of older rows, weighted.
* ``segment_upsample``: weak segments weighted up (:mod:`retrainer.training.segment_window`).
* ``warm_start``: continue the champion (:mod:`retrainer.training.warm_start`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.training import (
    DynamicWindow,
    FixedWindow,
    HistoryPlusRecentWindow,
    SegmentUpsampleWindow,
    WarmStartWindow,
    WindowStrategy,
)
from retrainer.training.context import (
    WindowContext,
    date_span,
    last_days,
    require_trainable,
    row_dates,
    sample_rows,
)
from retrainer.training.dynamic_window import dynamic_window
from retrainer.training.segment_window import segment_upsample_window
from retrainer.training.trainer import TrainingDataError, TrainingSet
from retrainer.training.warm_start import warm_start_window

__all__ = [
    "WindowContext",
    "build_training_set",
    "dynamic_window",
    "fixed_window",
    "history_plus_recent_window",
    "parse_window_option",
    "segment_upsample_window",
    "warm_start_window",
]


def fixed_window(strategy: FixedWindow, ctx: WindowContext) -> TrainingSet:
    """The last ``days`` days of labelled history (all of it when ``days`` is null).

    Raises:
        TrainingDataError: When the window is empty or holds a single class.
    """
    ts = ctx.config.columns.timestamp
    frame = last_days(ctx.history, ts, strategy.days)
    if frame.empty:
        raise TrainingDataError("the fixed window holds no labelled rows")
    require_trainable(frame, ctx.config, "fixed")
    start, end = date_span(frame, ts)
    return TrainingSet(
        frame=frame,
        strategy="fixed",
        details={"start": start, "end": end, "days": strategy.days},
    )


def history_plus_recent_window(
    strategy: HistoryPlusRecentWindow, ctx: WindowContext
) -> TrainingSet:
    """Every row of the last ``recent_days`` days plus a uniform sample of the older rows.

    The older rows are sampled without replacement at ``history_fraction`` (seeded by
    ``training.random_state``); recent rows get weight ``recent_weight`` and sampled older rows
    ``history_weight``. Older rows come first in the frame.

    Raises:
        TrainingDataError: When the result is empty or holds a single class.
    """
    cfg = ctx.config
    ts = cfg.columns.timestamp
    history = ctx.history
    if history.empty:
        raise TrainingDataError("history_plus_recent window: the history holds no labelled rows")
    dates = row_dates(history, ts)
    recent_start = max(dates) - timedelta(days=strategy.recent_days - 1)
    is_recent = dates >= recent_start
    recent = history.loc[is_recent]
    older = history.loc[~is_recent]
    keep = round(len(older) * strategy.history_fraction)
    rng = np.random.default_rng(cfg.training.random_state)
    sampled = older.iloc[np.sort(rng.choice(len(older), size=keep, replace=False))]
    frame = pd.concat([sampled, recent])
    weights = np.concatenate(
        [
            np.full(len(sampled), strategy.history_weight),
            np.full(len(recent), strategy.recent_weight),
        ]
    )
    require_trainable(frame, cfg, "history_plus_recent")
    start, end = date_span(frame, ts)
    unweighted = strategy.history_weight == strategy.recent_weight == 1.0
    return TrainingSet(
        frame=frame,
        sample_weight=None if unweighted else weights,
        strategy="history_plus_recent",
        details={
            "start": start,
            "end": end,
            "recent_days": strategy.recent_days,
            "recent_start": recent_start.isoformat(),
            "recent_rows": len(recent),
            "history_rows": len(sampled),
            "history_available": len(older),
            "history_fraction": strategy.history_fraction,
            "history_weight": strategy.history_weight,
            "recent_weight": strategy.recent_weight,
        },
    )


_STRATEGIES: dict[type, Callable[[Any, WindowContext], TrainingSet]] = {
    FixedWindow: fixed_window,
    DynamicWindow: dynamic_window,
    HistoryPlusRecentWindow: history_plus_recent_window,
    SegmentUpsampleWindow: segment_upsample_window,
    WarmStartWindow: warm_start_window,
}


def build_training_set(strategy: WindowStrategy, ctx: WindowContext) -> TrainingSet:
    """Apply a window strategy to the labelled history, then ``training.max_rows`` sampling.

    Args:
        strategy: One of the window strategies of ``training.window``.
        ctx: Config, labelled history (holdout removed) and the champion.

    Returns:
        The rows to fit, their weights, and ``details`` (logged as ``window.<key>``).

    Raises:
        TrainingDataError: When the strategy leaves nothing (or a single class) to train on.
    """
    try:
        apply = _STRATEGIES[type(strategy)]
    except KeyError:
        raise TypeError(f"unknown window strategy {strategy!r}") from None
    training = apply(strategy, ctx)
    max_rows = ctx.config.training.max_rows
    if max_rows and len(training.frame) > max_rows:
        positions = sample_rows(training.frame, max_rows, ctx.config.training.random_state)
        training.frame = training.frame.iloc[positions]
        if training.sample_weight is not None:
            training.sample_weight = training.sample_weight[positions]
        training.details["subsampled_to"] = max_rows
        require_trainable(training.frame, ctx.config, f"{strategy.kind} (after max_rows)")
    return training


def parse_window_option(text: str) -> WindowStrategy:
    """Parse ``--window`` text: ``fixed``, ``fixed:30``, ``dynamic``, ``warm_start:14`` ...

    ``KIND`` alone takes the strategy's defaults; the number in ``KIND:N`` sets one length
    in days, the other settings keep their defaults:

    * ``fixed:N``: train on the last N days;
    * ``dynamic:N``: N is the *validation window*, the most recent N days of the history
      on which every candidate length (``candidates_days``, default 7, 14, 30, 60, 90) is
      scored. It is not the training length: the search picks that. ``dynamic:14`` scores
      the candidates on the last 14 days, then trains on the winning length;
    * ``history_plus_recent:N``: keep every row of the last N days (plus the sample of
      older rows);
    * ``segment_upsample:N``: the base window of N days whose weak segments are upweighted;
    * ``warm_start:N``: continue the champion on the last N days.

    Args:
        text: The option value, e.g. ``dynamic:14``.

    Returns:
        The window strategy.

    Raises:
        ValueError: For an unknown kind or a bad number.
    """
    from pydantic import TypeAdapter, ValidationError

    kind, _, number = text.partition(":")
    kind = kind.strip().replace("-", "_")
    data: dict[str, Any] = {"kind": kind}
    if number:
        try:
            days = int(number)
        except ValueError:
            raise ValueError(f"--window {text!r}: {number!r} is not a number of days") from None
        key = {
            "fixed": "days",
            "warm_start": "days",
            "segment_upsample": "days",
            "history_plus_recent": "recent_days",
            "dynamic": "validation_days",
        }.get(kind, "days")
        data[key] = days
    try:
        return TypeAdapter(WindowStrategy).validate_python(data)
    except ValidationError as exc:
        raise ValueError(f"--window {text!r}: {exc.errors()[0]['msg']}") from None
