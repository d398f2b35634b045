"""The ``dynamic`` window: choose the window length like a hyperparameter.

The most recent ``validation_days`` of the history form a validation window (this is not the
gate holdout, which the flow removed before any strategy sees the data). For every candidate
length N the configured estimator is fitted on the N days just before the validation window
and scored on it. The metric values per N form the *curve*.

Noise: the candidates are scored on the same validation rows, so their differences are paired.
By default a candidate counts as tied with the best when its gap to the best is at most one
standard error of the paired difference (bootstrap over the validation rows, a "one standard
error rule"); ``tolerance`` sets a fixed gap instead. Among the tied candidates ``prefer``
decides: ``longest`` (default) keeps the most data unless a shorter window is clearly better,
so a stable stream gets a long window and a sudden drift a short one; ``shortest`` favours
recency.

The final training set is the last N days of the history, validation window included: the
chosen model is trained on the N days just before the data it will score, as in the search.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from retrainer.config.training import DynamicWindow
from retrainer.metrics import MetricInputError, MetricSpec, PreparedInputs, get_metric
from retrainer.training.context import (
    WindowContext,
    date_span,
    last_days,
    require_trainable,
    row_dates,
)
from retrainer.training.evaluation import fit_quick, prepared_outputs, resolve_metric
from retrainer.training.trainer import TrainingDataError, TrainingSet

BOOTSTRAP_ROUNDS = 200
"""Resamples of the validation rows used to estimate the standard error of a difference."""

_BOOTSTRAP_CELLS = 2_000_000  # resamples x rows held in memory at once


def dynamic_window(strategy: DynamicWindow, ctx: WindowContext) -> TrainingSet:
    """Search the window length on a validation window and train on the winner.

    Args:
        strategy: Candidates, validation length, metric and tie rule.
        ctx: Config and labelled history.

    Returns:
        The last N days of history for the chosen N; ``details`` holds ``days`` (chosen),
        ``best_days`` (best before the tie rule), ``metric``, ``tolerance`` (the gap used),
        the validation span and ``curve`` ({days: metric on the validation window}).

    Raises:
        TrainingDataError: When the history is not longer than the validation window, the
            validation window cannot be scored, or no candidate can be fitted.
    """
    cfg = ctx.config
    ts = cfg.columns.timestamp
    history = ctx.history
    if history.empty:
        raise TrainingDataError("dynamic window: the history holds no labelled rows")
    metric = resolve_metric(strategy.metric, cfg)
    spec = get_metric(metric)

    dates = row_dates(history, ts)
    first, last = min(dates), max(dates)
    validation_start = last - timedelta(days=strategy.validation_days - 1)
    in_validation = dates >= validation_start
    if in_validation.all():
        raise TrainingDataError(
            f"dynamic window: the labelled history ({first} .. {last}) is not longer than "
            f"validation_days={strategy.validation_days}; nothing is left to fit candidates on"
        )
    validation = history.loc[in_validation]
    require_trainable(validation, cfg, "dynamic window's validation")
    available_days = (validation_start - first).days

    candidates = sorted(set(strategy.candidates_days))
    curve: dict[int, float | None] = {}
    outputs: dict[int, PreparedInputs] = {}
    capped = False
    seen_spans: set[int] = set()
    for days in candidates:
        span = min(days, available_days)
        capped = capped or days > available_days
        if span in seen_spans:  # longer than the history: the same rows as a shorter candidate
            continue
        seen_spans.add(span)
        start = validation_start - timedelta(days=span)
        rows = history.loc[(dates >= start) & ~in_validation]
        try:
            inputs = prepared_outputs(fit_quick(rows, cfg), validation, cfg)
        except (TrainingDataError, MetricInputError):  # e.g. one class, a class never seen
            curve[days] = None
            continue
        curve[days] = spec.compute(inputs).value
        if curve[days] is not None:
            outputs[days] = inputs

    if not outputs:
        raise TrainingDataError(
            f"dynamic window: no candidate of {candidates} could be fitted and scored with "
            f"{metric} on the validation window {validation_start} .. {last}"
        )
    best_days = max(outputs, key=lambda d: spec.orient(curve[d]))
    if strategy.tolerance is None:
        gaps = _paired_gap_standard_errors(spec, outputs, best_days, cfg.training.random_state)
    else:
        gaps = {d: strategy.tolerance for d in outputs}
    tied = [d for d in outputs if spec.orient(curve[best_days] - curve[d]) <= gaps[d]]
    chosen = max(tied) if strategy.prefer == "longest" else min(tied)
    details_extra = {"capped_at": available_days} if capped else {}

    frame = last_days(history, ts, chosen)
    require_trainable(frame, cfg, "dynamic")
    start, end = date_span(frame, ts)
    return TrainingSet(
        frame=frame,
        strategy="dynamic",
        details={
            "start": start,
            "end": end,
            "days": chosen,
            "best_days": best_days,
            "metric": metric,
            "best_value": curve[best_days],
            "chosen_value": curve[chosen],
            "tie_rule": "one_se" if strategy.tolerance is None else "tolerance",
            "tolerance": gaps[chosen],
            "prefer": strategy.prefer,
            "candidates": ",".join(str(d) for d in candidates),
            "validation_start": validation_start.isoformat(),
            "validation_end": last.isoformat(),
            "validation_rows": len(validation),
            **details_extra,
            "curve": curve,
        },
    )


def _paired_gap_standard_errors(
    spec: MetricSpec, outputs: dict[int, PreparedInputs], best_days: int, random_state: int
) -> dict[int, float]:
    """Bootstrap standard error of ``metric(best) - metric(candidate)`` for every candidate.

    Every resample draws the same validation rows for all candidates (paired), so noise
    shared by the candidates cancels out of the difference.
    """
    n = outputs[best_days].n
    rng = np.random.default_rng(random_state)
    chunk = max(1, min(BOOTSTRAP_ROUNDS, _BOOTSTRAP_CELLS // n))  # bound the (B, n) arrays
    differences: dict[int, list[np.ndarray]] = {d: [] for d in outputs if d != best_days}
    for begin in range(0, BOOTSTRAP_ROUNDS, chunk):
        rounds = min(chunk, BOOTSTRAP_ROUNDS - begin)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=rounds).astype(float)
        best = spec.weighted(outputs[best_days], counts)
        for days in differences:
            differences[days].append(best - spec.weighted(outputs[days], counts))
    errors = {best_days: 0.0}
    for days, parts in differences.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        errors[days] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return errors
