"""The ``predictions`` table: what a model predicted for each feature row.

One row per scored feature row, partitioned by the row's event date (like the features), so
monitoring can join labels and slice by segment without re-reading the features:

========================  ==============================================================
column                    meaning
========================  ==============================================================
``<columns.id>``          row id (joins with labels)
``<columns.timestamp>``   event time of the feature row (UTC)
``model_version``         registered version that produced the prediction (text)
``score``                 binary: P(positive class); regression: the predicted value;
                          multiclass: the probability of the predicted class
``prediction``            predicted label (regression: the predicted value)
``proba_<class>``         multiclass only: one probability column per class
``scored_at``             when the prediction was made (UTC)
segment columns           ``columns.segments``, copied from the features
========================  ==============================================================

Batch scoring (``flows/score.py``) writes it today; a serving gateway will log the same
columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from retrainer.training.pipeline import predict_scores

MODEL_VERSION_COLUMN = "model_version"
SCORE_COLUMN = "score"
PREDICTION_COLUMN = "prediction"
SCORED_AT_COLUMN = "scored_at"
PROBA_PREFIX = "proba_"


class PredictionSchemaError(ValueError):
    """A predictions frame lacks a column monitoring needs."""


def proba_columns(frame: pd.DataFrame) -> list[str]:
    """The per-class probability columns of a multiclass predictions frame, in order."""
    return [c for c in frame.columns if str(c).startswith(PROBA_PREFIX)]


def score_features(
    model: Any,
    features: pd.DataFrame,
    *,
    task: str,
    id_column: str,
    timestamp_column: str,
    feature_columns: Sequence[str],
    segment_columns: Sequence[str],
    model_version: str,
    scored_at: datetime | None = None,
) -> pd.DataFrame:
    """Score feature rows and lay them out as ``predictions`` rows.

    Args:
        model: A fitted pipeline (``predict_proba`` for classifiers, ``predict`` otherwise).
        features: Feature rows with id, timestamp, features and segment columns.
        task: binary, multiclass or regression.
        id_column: Row id column.
        timestamp_column: Event time column.
        feature_columns: Columns the model reads.
        segment_columns: Columns copied for per-segment monitoring.
        model_version: The version that scores.
        scored_at: Scoring time; now (UTC) by default.

    Returns:
        The predictions frame (see the module docstring for the columns).

    Raises:
        PredictionSchemaError: When the features lack a needed column.
    """
    needed = list(dict.fromkeys([id_column, timestamp_column, *feature_columns, *segment_columns]))
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise PredictionSchemaError(f"features lack column(s) {missing} needed for scoring")
    scored_at = scored_at or datetime.now(UTC)
    out = pd.DataFrame(
        {
            id_column: features[id_column].to_numpy(),
            timestamp_column: features[timestamp_column].array,  # tz-aware, not objects
        }
    )
    out[MODEL_VERSION_COLUMN] = str(model_version)
    if features.empty:
        out[SCORE_COLUMN] = pd.Series(dtype=float)
        out[PREDICTION_COLUMN] = pd.Series(dtype=object)
    else:
        scores, labels = predict_scores(model, features[list(feature_columns)], task)
        if task == "multiclass":
            classes = np.asarray(model.classes_)
            for index, cls in enumerate(classes):
                out[f"{PROBA_PREFIX}{cls}"] = scores[:, index]
            out[SCORE_COLUMN] = scores.max(axis=1)
        else:
            out[SCORE_COLUMN] = np.asarray(scores, dtype=float)
        out[PREDICTION_COLUMN] = labels
    out[SCORED_AT_COLUMN] = pd.Timestamp(scored_at)
    for column in segment_columns:
        if column not in out.columns:
            out[column] = features[column].to_numpy()
    return out


def check_predictions(
    frame: pd.DataFrame, *, id_column: str, timestamp_column: str, task: str
) -> None:
    """Raise a clear error when a predictions frame cannot be monitored.

    Raises:
        PredictionSchemaError: Naming the missing columns.
    """
    needed = [id_column, timestamp_column, SCORE_COLUMN, PREDICTION_COLUMN]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise PredictionSchemaError(
            f"predictions lack column(s) {missing}; expected {needed} (see "
            "retrainer.monitoring.predictions)"
        )
    if task == "multiclass" and not proba_columns(frame):
        raise PredictionSchemaError(
            f"multiclass predictions need per-class columns {PROBA_PREFIX}<class>"
        )
