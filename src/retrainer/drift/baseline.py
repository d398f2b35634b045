"""A model's drift baseline: its training features and its own scores, profiled once.

The train flow builds the baseline when it registers a version and logs it with the training
run (``drift/baseline_profile.json.gz``), so every later drift check of that version compares
against a few hundred kilobytes instead of re-reading the training data:

* feature columns (``columns.numeric``, ``columns.categorical``, ``columns.embeddings``) are
  profiled on the training rows;
* prediction columns are profiled on the model's outputs on its *fresh holdout*, not on the
  training rows, whose in-sample scores are more confident than any live scores would be:
  ``prediction_score`` (binary: P(positive class); multiclass: the top class probability;
  regression: the predicted value) and, for multiclass, ``predicted_label``.

A production-window baseline (``drift.baseline: {kind: window}``) is built the same way from
that window, with the champion's scores on it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.drift import DriftSection, TrainingBaseline, WindowBaseline
from retrainer.drift.detector import DriftDetector
from retrainer.drift.profile import BaselineProfile, ProfileError
from retrainer.monitoring.window import parse_window
from retrainer.training.pipeline import predict_scores

PREDICTION_SCORE = "prediction_score"
PREDICTED_LABEL = "predicted_label"
BASELINE_ARTIFACT_DIR = "drift"
BASELINE_FILENAME = "baseline_profile.json.gz"
BASELINE_ARTIFACT_PATH = f"{BASELINE_ARTIFACT_DIR}/{BASELINE_FILENAME}"


def prediction_columns(task: str) -> tuple[list[str], list[str]]:
    """Names of the prediction columns checked for drift, as ``(numeric, categorical)``.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
    """
    return [PREDICTION_SCORE], ([PREDICTED_LABEL] if task == "multiclass" else [])


def prediction_frame(model: Any, features: pd.DataFrame, task: str) -> pd.DataFrame:
    """The model's outputs on ``features`` as the prediction columns of a drift check.

    Args:
        model: A fitted pipeline.
        features: The feature columns the model reads.
        task: ``binary``, ``multiclass`` or ``regression``.

    Returns:
        A frame with ``prediction_score`` (and ``predicted_label`` for multiclass), on the
        index of ``features``.
    """
    if features.empty:
        out = pd.DataFrame(index=features.index)
        out[PREDICTION_SCORE] = pd.Series(dtype=float)
        if task == "multiclass":
            out[PREDICTED_LABEL] = pd.Series(dtype=object)
        return out
    scores, labels = predict_scores(model, features, task)
    return prediction_columns_of(scores, labels, task, features.index)


def prediction_columns_of(scores: Any, labels: Any, task: str, index: pd.Index) -> pd.DataFrame:
    """Scores and labels of ``predict_scores`` as the prediction columns of a drift check."""
    out = pd.DataFrame(index=index)
    scores = np.asarray(scores, dtype=float)
    out[PREDICTION_SCORE] = scores.max(axis=1) if scores.ndim == 2 else scores
    if task == "multiclass":
        out[PREDICTED_LABEL] = pd.Series(labels, index=index).astype(str)
    return out


def build_baseline_profile(
    features: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    embeddings: list[str] | None = None,
    predictions: pd.DataFrame | None = None,
    task: str = "binary",
    config: DriftSection | None = None,
    metadata: dict[str, Any] | None = None,
) -> BaselineProfile:
    """Profile feature rows (and, optionally, a model's predictions) into one baseline.

    Args:
        features: Reference feature rows (training rows or a production window).
        numeric: Numeric feature columns.
        categorical: Categorical feature columns.
        embeddings: Vector columns.
        predictions: Output of :func:`prediction_frame` on reference rows the model did not
            train on (its holdout); None leaves predictions out of the baseline.
        task: The model's task (which prediction columns there are).
        config: The ``drift:`` section (binning, ignored columns ...).
        metadata: Free-form facts stored in the profile (model, version, window ...).

    Returns:
        One profile holding every column; feature and prediction columns keep their own
        row counts.

    Raises:
        ValueError: A declared column is missing from the frames (the message names it).
    """
    config = config or DriftSection()
    profile = (
        DriftDetector(numeric, categorical, embeddings or [], config=config).fit(features).profile_
    )
    if predictions is not None and len(predictions):
        score_numeric, score_categorical = prediction_columns(task)
        score_profile = (
            DriftDetector(score_numeric, score_categorical, config=config).fit(predictions).profile_
        )
        clash = set(profile.columns) & set(score_profile.columns)
        if clash:
            raise ValueError(
                f"feature column(s) {sorted(clash)} clash with the prediction columns of a "
                "drift check; rename them in the data"
            )
        profile.columns.update(score_profile.columns)
        profile.metadata["prediction_rows"] = score_profile.n_rows
    profile.metadata.update(metadata or {})
    profile.metadata["prediction_columns"] = [
        c for c in (PREDICTION_SCORE, PREDICTED_LABEL) if c in profile.columns
    ]
    return profile


def checked_columns(profile: BaselineProfile) -> tuple[list[str], list[str]]:
    """The profile's feature columns and prediction columns, in profile order."""
    predicted = set(profile.metadata.get("prediction_columns", []))
    features = [c for c in profile.columns if c not in predicted]
    return features, [c for c in profile.columns if c in predicted]


def require_feature_columns(
    profile: BaselineProfile,
    numeric: list[str],
    categorical: list[str],
    config: DriftSection | None = None,
) -> None:
    """Check that a saved profile covers the configured (not ignored) features.

    Raises:
        ProfileError: A configured feature has no profile (the config changed after the
            model was trained); the message names the columns.
    """
    config = config or DriftSection()
    missing = [
        c for c in [*numeric, *categorical] if c not in profile.columns and not config.is_ignored(c)
    ]
    if missing:
        raise ProfileError(
            f"the baseline profile has no column(s) {missing}: the config lists features the "
            "model was not trained with; retrain, or check against a window baseline"
        )


def parse_baseline(text: str | None, section: DriftSection) -> TrainingBaseline | WindowBaseline:
    """A baseline option: ``training``, ``START:END`` (a production window) or None.

    Args:
        text: The option as the user wrote it; None means the config's ``drift.baseline``.
        section: The ``drift:`` section.

    Raises:
        ValueError: A malformed value (the message shows the expected forms).
    """
    if text is None:
        return section.baseline
    if text.strip().lower() == "training":
        return TrainingBaseline()
    try:
        start, end = parse_window(text)
    except ValueError as exc:
        raise ValueError(f"--baseline: expected 'training' or START:END ({exc})") from None
    return WindowBaseline(start=start, end=end)


def drop_prediction_columns(profile: BaselineProfile) -> None:
    """Leave the model's outputs out of a profile (``drift.check_predictions: false``)."""
    for name in checked_columns(profile)[1]:
        profile.columns.pop(name)
    profile.metadata["prediction_columns"] = []


def baseline_info(
    profile: BaselineProfile,
    baseline: TrainingBaseline | WindowBaseline,
    version_label: str | None,
    rows: int,
) -> dict[str, Any]:
    """What a check compares with, as reported: kind, start, end, rows and a description.

    Args:
        profile: The baseline profile.
        baseline: The baseline option.
        version_label: Whose training data a training baseline is (e.g. ``champion v3``).
        rows: Feature rows of a window baseline.
    """
    if isinstance(baseline, TrainingBaseline):
        start, end = profile.metadata.get("start"), profile.metadata.get("end")
        return {
            "kind": "training",
            "start": start,
            "end": end,
            "rows": profile.n_rows,
            "description": f"{version_label}'s training data {start}..{end}",
        }
    return {
        "kind": "window",
        "start": str(baseline.start),
        "end": str(baseline.end),
        "rows": rows,
        "description": f"production window {baseline.start}..{baseline.end}",
    }


def window_baseline_notes(baseline: WindowBaseline, start: date, end: date) -> list[str]:
    """Remarks on a production-window baseline against the current window ``start..end``."""
    if baseline.end >= start and baseline.start <= end:
        return [
            f"the baseline window {baseline.start}..{baseline.end} overlaps the current "
            f"window {start}..{end}: shared days dilute any drift"
        ]
    return []
