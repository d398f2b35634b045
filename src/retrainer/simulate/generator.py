"""Turn a :class:`Schedule` into feature rows and labels (pure, deterministic for a seed).

Every day draws from its own random streams keyed by ``(seed, day, stream)``: the base
population, one stream per drift and one for the labels. The same seed therefore gives the
same base rows in every scenario, and a drift changes only what it is defined to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retrainer.simulate.incidents import apply_incident
from retrainer.simulate.population import (
    CATEGORICAL_COLUMNS,
    COLUMN_ORDER,
    CONCEPTS,
    ID_COLUMN,
    ID_PREFIX,
    ID_WIDTH,
    LABEL_TIME_COLUMN,
    NUMERIC_COLUMNS,
    TARGET_COLUMN,
    TIMESTAMP_COLUMN,
    base_concept,
    category_code,
    draw_categories,
    draw_numeric,
    scale_numeric,
    shift_numeric,
    widen_numeric,
)
from retrainer.simulate.schedule import Drift, Schedule
from retrainer.simulate.stream import RARE_STREAM, Ordering, day_rng

_BASE_STREAM = 0
_LABEL_STREAM = 1
_DRIFT_STREAM = 100  # + drift index
_INCIDENT_STREAM = 10_000  # + incident index (RARE_STREAM, OUTLIER_STREAM: see stream.py)

SECONDS_PER_DAY = 86_400

Columns = dict[str, np.ndarray]


def _rng(schedule: Schedule, day_index: int, stream: int) -> np.random.Generator:
    return day_rng(schedule.seed, day_index, stream)


def _segment_mask(drift: Drift, cols: Columns, n: int) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    for column, value in (drift.segment or {}).items():
        mask &= cols[column] == category_code(column, value)
    return mask


def _row_weights(
    drift: Drift, day: date, rng: np.random.Generator, cols: Columns, n: int
) -> np.ndarray:
    """Per-row fraction of the drift's full effect on ``day`` (0 outside its segment)."""
    intensity = drift.intensity(day)
    if drift.pattern == "gradual":
        weights = (rng.random(n) < intensity).astype(float)
    else:
        weights = np.full(n, intensity)
    return weights * _segment_mask(drift, cols, n)


# -- base rows -----------------------------------------------------------------------------


def _assign_rare_categories(schedule: Schedule, day_index: int, cats: Columns) -> None:
    """Give each rare category its share of the day's rows (codes after the usual ones)."""
    n = len(cats["region"])
    for k, rare in enumerate(schedule.stream.rare_categories):
        rng = _rng(schedule, day_index, RARE_STREAM + k)
        picked = rng.random(n) < rare.share
        code = schedule.stream.vocabulary(rare.column).index(rare.value)
        cats[rare.column] = np.where(picked, code, cats[rare.column])


def draw_base(schedule: Schedule, day_index: int) -> Columns:
    """The base population's rows of day ``day_index`` and their event seconds (sorted)."""
    base = _rng(schedule, day_index, _BASE_STREAM)
    cols = draw_categories(base, schedule.rows_per_day)
    _assign_rare_categories(schedule, day_index, cols)
    cols.update(draw_numeric(base, cols))
    # Event times: busier in the afternoon, spread over the whole UTC day.
    seconds = base.normal(14 * 3600, 4.5 * 3600, schedule.rows_per_day)
    seconds = np.sort(np.mod(seconds, SECONDS_PER_DAY))
    cols["_seconds"] = seconds.astype("int64")
    return cols


def _ordered_block(schedule: Schedule, first: int, order: Ordering) -> list[Columns]:
    """The days of the sorted block that starts on day ``first``.

    The block's rows are sorted by the ordering column and cut into days in that order;
    each day keeps the (sorted) event seconds drawn for it.
    """
    draws = [draw_base(schedule, first + i) for i in range(order.block_days)]
    keys = [key for key in draws[0] if key != "_seconds"]
    pooled = {key: np.concatenate([d[key] for d in draws]) for key in keys}
    rank = np.argsort(pooled[order.column], kind="stable")
    n = schedule.rows_per_day
    return [
        {
            **{key: values[rank[i * n : (i + 1) * n]] for key, values in pooled.items()},
            "_seconds": draw["_seconds"],
        }
        for i, draw in enumerate(draws)
    ]


def base_days(schedule: Schedule) -> list[Columns]:
    """Every day's base rows: independent draws, or the ordered slices of the stream."""
    order = schedule.stream.order
    if order is None:
        return [draw_base(schedule, i) for i in range(schedule.days)]
    days: list[Columns] = []
    for first in range(0, schedule.days, order.block_days):
        days += _ordered_block(schedule, first, order)
    return days[: schedule.days]


# -- drift, outliers and labels ------------------------------------------------------------


def _move_categories(
    drift: Drift, day: date, rng: np.random.Generator, cols: Columns, n: int
) -> None:
    """Move a share of rows to the drift's target category."""
    column = drift.columns[0]
    intensity = drift.intensity(day)
    if drift.pattern == "seasonal":
        intensity = (1 + intensity) / 2
    share = drift.magnitude * intensity
    moved = (rng.random(n) < share) & _segment_mask(drift, cols, n)
    cols[column] = np.where(moved, category_code(column, str(drift.target)), cols[column])


# Numeric effect -> new values of a column given the drift and each row's weight.
_NUMERIC_EFFECTS: dict[str, Callable[[str, np.ndarray, Drift, np.ndarray], np.ndarray]] = {
    "shift": lambda column, values, drift, w: shift_numeric(column, values, drift.magnitude * w),
    "widen": lambda column, values, drift, w: widen_numeric(column, values, drift.magnitude**w),
}


def _move_numeric(drift: Drift, day: date, rng: np.random.Generator, cols: Columns, n: int) -> None:
    """Shift or widen the drift's numeric columns, row by row."""
    weights = _row_weights(drift, day, rng, cols, n)
    change = _NUMERIC_EFFECTS[drift.effect]
    for column in drift.columns:
        cols[column] = np.where(
            weights != 0, change(column, cols[column], drift, weights), cols[column]
        )


def _apply_outliers(schedule: Schedule, day: date, cols: Columns) -> None:
    """Multiply the planned outlier rows of ``day`` by their factors."""
    for outlier in schedule.outliers_on(day):
        values = cols[outlier.column].copy()
        values[outlier.row] = scale_numeric(outlier.column, values[outlier.row], outlier.factor)
        cols[outlier.column] = values


def finish_day(schedule: Schedule, day_index: int, cols: Columns) -> Columns:
    """Day ``day_index`` from its base rows: covariate drift, valid outliers, then labels.

    Categories are integer codes into the stream's vocabulary, numeric columns floats.
    Besides the feature columns the dict holds ``_seconds`` (event second of the day),
    ``_probability`` (true default probability), ``_defaulted`` and ``_delay_days``.
    """
    day = schedule.start + timedelta(days=day_index)
    n = schedule.rows_per_day
    drift_rngs = {
        k: _rng(schedule, day_index, _DRIFT_STREAM + k) for k in range(len(schedule.drifts))
    }
    active = [(k, d) for k, d in enumerate(schedule.drifts) if d.intensity(day) != 0.0]

    # Covariate drift in schedule order. A drift changes only its own columns: numeric
    # columns shift or widen, categorical rows move to the target category.
    for k, drift in active:
        if drift.kind == "covariate":
            move = _move_categories if drift.categorical else _move_numeric
            move(drift, day, drift_rngs[k], cols, n)
    _apply_outliers(schedule, day, cols)

    # Labels: the base concept plus every active concept drift, row by row.
    base_logit = base_concept(cols)
    logit = base_logit.copy()
    for k, drift in active:
        if drift.kind == "concept":
            weights = _row_weights(drift, day, drift_rngs[k], cols, n)
            if np.any(weights):
                change = CONCEPTS[str(drift.concept)](cols) - base_logit
                logit += weights * drift.magnitude * change
    probability = 1 / (1 + np.exp(-logit))
    labels_rng = _rng(schedule, day_index, _LABEL_STREAM)
    cols["_probability"] = probability
    cols["_defaulted"] = (labels_rng.random(n) < probability).astype("int64")
    delay = np.full(n, schedule.label_delay_days, dtype="int64")
    if schedule.label_jitter_days > 0:
        delay = delay + labels_rng.integers(0, schedule.label_jitter_days + 1, n)
    cols["_delay_days"] = delay
    return cols


@dataclass
class GeneratedStream:
    """All days of a schedule."""

    features: pd.DataFrame
    labels: pd.DataFrame
    truth: pd.DataFrame
    broken_batches: dict[date, pd.DataFrame]


def _utc(micros: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")


def generate(schedule: Schedule) -> GeneratedStream:
    """Generate every day of ``schedule`` and apply its incidents to the daily batches."""
    per_day = [finish_day(schedule, i, rows) for i, rows in enumerate(base_days(schedule))]
    cols = {key: np.concatenate([d[key] for d in per_day]) for key in per_day[0]}
    n = schedule.rows_per_day
    total = n * schedule.days
    day_index = np.repeat(np.arange(schedule.days, dtype="int64"), n)
    epoch_day = (schedule.start - date(1970, 1, 1)).days
    event_us = ((epoch_day + day_index) * SECONDS_PER_DAY + cols["_seconds"]) * 1_000_000
    label_us = event_us + cols["_delay_days"] * SECONDS_PER_DAY * 1_000_000
    numbers = pc.cast(pa.array(np.arange(1, total + 1)), pa.string())
    padded = pc.utf8_lpad(numbers, ID_WIDTH, "0")
    ids = pd.array(pc.binary_join_element_wise(ID_PREFIX, padded, ""), dtype="str")

    data: dict[str, object] = {ID_COLUMN: ids, TIMESTAMP_COLUMN: _utc(event_us)}
    for column in NUMERIC_COLUMNS:
        data[column] = cols[column].astype("float64")
    for column in CATEGORICAL_COLUMNS:
        names = pa.array(schedule.stream.vocabulary(column)).take(pa.array(cols[column]))
        data[column] = pd.array(names, dtype="str")
    features = pd.DataFrame(data, columns=list(COLUMN_ORDER))
    labels = pd.DataFrame(
        {
            ID_COLUMN: ids,
            LABEL_TIME_COLUMN: _utc(label_us),
            TARGET_COLUMN: cols["_defaulted"],
        }
    )
    if schedule.label_jitter_days > 0:
        labels = labels.sort_values(LABEL_TIME_COLUMN, kind="stable").reset_index(drop=True)
    dates = np.array(schedule.dates(), dtype=object)
    truth = pd.DataFrame(
        {
            ID_COLUMN: ids,
            "event_date": dates[day_index],
            "default_probability": cols["_probability"],
        }
    )
    broken: dict[date, pd.DataFrame] = {}
    for k, incident in enumerate(schedule.incidents):
        index = (incident.date - schedule.start).days
        batch = broken.get(incident.date)
        if batch is None:
            batch = features.iloc[index * n : (index + 1) * n].reset_index(drop=True)
        rng = _rng(schedule, index, _INCIDENT_STREAM + k)
        broken[incident.date] = apply_incident(batch, incident, rng)
    return GeneratedStream(features=features, labels=labels, truth=truth, broken_batches=broken)
