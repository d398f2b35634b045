"""The prediction columns of a drift check: the checked version's logged predictions.

A day of the current window (or of a production-window baseline) is checked on its feature
columns and on the model's outputs, ``prediction_score`` (and ``predicted_label`` for
multiclass; see :mod:`retrainer.drift.baseline`). Those come from the ``predictions`` table:
the rows the checked version logged for the day, which are what it served. Feature rows the
version has no logged prediction for are scored with its model, so every row counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from retrainer.drift.baseline import PREDICTED_LABEL, PREDICTION_SCORE, prediction_frame
from retrainer.monitoring.predictions import PREDICTION_COLUMN, SCORE_COLUMN


@dataclass
class ScoredFrame:
    """Feature rows with the prediction columns of a drift check.

    Attributes:
        frame: The feature columns plus ``prediction_score`` (and ``predicted_label``).
        logged: Rows whose prediction was read from the predictions table.
        scored: Rows scored by the drift check (no logged prediction of the version).
    """

    frame: pd.DataFrame
    logged: int
    scored: int


def logged_prediction_columns(logged: pd.DataFrame, task: str) -> pd.DataFrame:
    """Predictions-table rows as the prediction columns of a drift check (same index)."""
    out = pd.DataFrame(index=logged.index)
    out[PREDICTION_SCORE] = pd.to_numeric(logged[SCORE_COLUMN], errors="coerce").astype(float)
    if task == "multiclass":
        out[PREDICTED_LABEL] = logged[PREDICTION_COLUMN].astype(str)
    return out


def prediction_lookup(
    logged: pd.DataFrame | None, id_column: str, task: str
) -> pd.DataFrame | None:
    """A day's logged predictions as prediction columns indexed by row id (the last per id).

    Built once per day and passed to :func:`with_predictions` for each chunk of the day, so
    the lookup (and its index's hash table) is not rebuilt per chunk.
    """
    if logged is None or not len(logged):
        return None
    lookup = logged_prediction_columns(logged, task).set_axis(logged[id_column].to_numpy())
    return lookup[~lookup.index.duplicated(keep="last")]


def with_predictions(
    features: pd.DataFrame,
    logged: pd.DataFrame | None,
    model: Any,
    *,
    id_column: str,
    feature_columns: Sequence[str],
    task: str,
    lookup: pd.DataFrame | None = None,
) -> ScoredFrame:
    """Add the prediction columns to one day's feature rows.

    Args:
        features: The day's feature rows (with the id column when ``logged`` is given).
        logged: The checked version's predictions of the day, one per id (None: none).
        model: The version's fitted pipeline (scores the rows without a logged prediction).
        id_column: The row id column.
        feature_columns: The columns the model reads.
        task: ``binary``, ``multiclass`` or ``regression``.
        lookup: :func:`prediction_lookup` of ``logged``, when the caller built it already.

    Returns:
        The frame (``features`` plus the prediction columns, on its index) and how many
        rows were logged or scored.
    """
    have = pd.Series(False, index=features.index)
    predicted = pd.DataFrame(index=features.index)
    if lookup is None:
        lookup = prediction_lookup(logged, id_column, task)
    if lookup is not None and id_column in features.columns:
        ids = features[id_column]
        have = ids.isin(lookup.index)
        for column in lookup.columns:
            predicted[column] = ids.map(lookup[column])
    missing = features.index[~have.to_numpy()]
    if len(missing):
        scored = prediction_frame(model, features.loc[missing, list(feature_columns)], task)
        for column in scored.columns:
            if column not in predicted.columns:
                predicted[column] = pd.Series(index=features.index, dtype=scored[column].dtype)
            predicted.loc[missing, column] = scored[column]
    frame = pd.concat([features, predicted], axis=1)
    return ScoredFrame(frame, int(have.sum()), len(missing))


def split_predictions(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A frame of :func:`with_predictions` split into its features and its prediction columns."""
    predicted = [c for c in (PREDICTION_SCORE, PREDICTED_LABEL) if c in frame.columns]
    if not predicted:
        return frame, None
    return frame.drop(columns=predicted), frame[predicted]
