"""Turn a :class:`Schedule` into feature rows and labels (pure, deterministic for a seed).

Every day draws from its own random streams keyed by ``(seed, day, stream)``: the base
population, one stream per drift and one for the labels. The same seed therefore gives the
same base rows in every scenario, and a drift changes only what it is defined to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retrainer.simulate.incidents import apply_incident
from retrainer.simulate.population import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    COLUMN_ORDER,
    CONCEPTS,
    ID_COLUMN,
    LABEL_TIME_COLUMN,
    NUMERIC_COLUMNS,
    TARGET_COLUMN,
    TIMESTAMP_COLUMN,
    base_concept,
    category_code,
    draw_categories,
    draw_numeric,
    shift_numeric,
)
from retrainer.simulate.schedule import Drift, Schedule

_BASE_STREAM = 0
_LABEL_STREAM = 1
_DRIFT_STREAM = 100  # + drift index
_INCIDENT_STREAM = 10_000  # + incident index

SECONDS_PER_DAY = 86_400


def _rng(schedule: Schedule, day_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([schedule.seed, day_index, stream])


def _segment_mask(drift: Drift, cols: dict[str, np.ndarray], n: int) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    for column, value in (drift.segment or {}).items():
        mask &= cols[column] == category_code(column, value)
    return mask


def _row_weights(
    drift: Drift, day: date, rng: np.random.Generator, cols: dict[str, np.ndarray], n: int
) -> np.ndarray:
    """Per-row fraction of the drift's full effect on ``day`` (0 outside its segment)."""
    intensity = drift.intensity(day)
    if drift.pattern == "gradual":
        weights = (rng.random(n) < intensity).astype(float)
    else:
        weights = np.full(n, intensity)
    return weights * _segment_mask(drift, cols, n)


def generate_day(schedule: Schedule, day_index: int) -> dict[str, np.ndarray]:
    """Columns of day ``day_index`` (categories as integer codes, numeric as floats).

    Besides the feature columns the dict holds ``_seconds`` (event second of the day),
    ``_probability`` (true default probability), ``_defaulted`` and ``_delay_days``.
    """
    day = schedule.start + timedelta(days=day_index)
    n = schedule.rows_per_day
    base = _rng(schedule, day_index, _BASE_STREAM)
    drift_rngs = {
        k: _rng(schedule, day_index, _DRIFT_STREAM + k) for k in range(len(schedule.drifts))
    }
    active = [(k, d) for k, d in enumerate(schedule.drifts) if d.intensity(day) != 0.0]

    # The base draw, then covariate drift in schedule order. A drift changes only its own
    # columns: numeric columns shift, categorical rows move to the target category.
    cols = draw_categories(base, n)
    cols.update(draw_numeric(base, cols))
    for k, drift in active:
        if drift.kind != "covariate":
            continue
        if drift.categorical:
            column = drift.columns[0]
            intensity = drift.intensity(day)
            if drift.pattern == "seasonal":
                intensity = (1 + intensity) / 2
            share = drift.magnitude * intensity
            moved = (drift_rngs[k].random(n) < share) & _segment_mask(drift, cols, n)
            cols[column] = np.where(moved, category_code(column, str(drift.target)), cols[column])
        else:
            weights = _row_weights(drift, day, drift_rngs[k], cols, n)
            for column in drift.columns:
                shifted = shift_numeric(column, cols[column], drift.magnitude * weights)
                cols[column] = np.where(weights != 0, shifted, cols[column])

    # Event times: busier in the afternoon, spread over the whole UTC day.
    seconds = np.sort(np.mod(base.normal(14 * 3600, 4.5 * 3600, n), SECONDS_PER_DAY))
    cols["_seconds"] = seconds.astype("int64")

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
    per_day = [generate_day(schedule, i) for i in range(schedule.days)]
    cols = {key: np.concatenate([d[key] for d in per_day]) for key in per_day[0]}
    n = schedule.rows_per_day
    total = n * schedule.days
    day_index = np.repeat(np.arange(schedule.days, dtype="int64"), n)
    epoch_day = (schedule.start - date(1970, 1, 1)).days
    event_us = ((epoch_day + day_index) * SECONDS_PER_DAY + cols["_seconds"]) * 1_000_000
    label_us = event_us + cols["_delay_days"] * SECONDS_PER_DAY * 1_000_000
    numbers = pc.cast(pa.array(np.arange(1, total + 1)), pa.string())
    ids = pd.array(pc.binary_join_element_wise("L", pc.utf8_lpad(numbers, 8, "0"), ""), dtype="str")

    data: dict[str, object] = {ID_COLUMN: ids, TIMESTAMP_COLUMN: _utc(event_us)}
    for column in NUMERIC_COLUMNS:
        data[column] = cols[column].astype("float64")
    for column in CATEGORICAL_COLUMNS:
        names = pa.array(CATEGORIES[column][0]).take(pa.array(cols[column]))
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
