"""Fitting a model on a prepared training set and scoring it on a holdout (no IO)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from retrainer.config import RetrainerConfig
from retrainer.training.pipeline import build_pipeline, predict_scores


class TrainingDataError(Exception):
    """The data cannot train a model (empty window, one class only, missing target ...)."""


@dataclass
class TrainingSet:
    """Rows a model is fitted on, with optional sample weights and how they were chosen."""

    frame: pd.DataFrame
    sample_weight: np.ndarray | None = None
    strategy: str = "fixed"
    details: dict[str, Any] = field(default_factory=dict)
    init_model: Any = None  # a fitted pipeline to continue from (warm start)
    init_method: Literal["warm_start", "partial_fit"] = "warm_start"  # how init_model continues
    init_epochs: int = 1  # partial_fit passes over the rows

    @property
    def start(self) -> date | None:
        """First event date in the set."""
        return self.details.get("start")

    @property
    def end(self) -> date | None:
        """Last event date in the set."""
        return self.details.get("end")


@dataclass
class FittedModel:
    """A fitted pipeline and facts about the fit."""

    pipeline: Any
    train_rows: int
    training_seconds: float
    classes: list[Any] | None


def event_dates(frame: pd.DataFrame, timestamp_column: str) -> pd.Series:
    """UTC event date of each row (``datetime.date`` values, on the frame's index)."""
    stamps = pd.to_datetime(frame[timestamp_column], utc=True)
    days = stamps.dt.tz_convert(None).to_numpy().astype("datetime64[D]")
    unique, inverse = np.unique(days, return_inverse=True)  # a few hundred distinct days
    as_dates = np.array([d.item() for d in unique], dtype=object)
    out = as_dates[inverse.reshape(-1)] if len(unique) else np.array([], dtype=object)
    return pd.Series(out, index=frame.index, dtype=object)


def split_holdout(
    frame: pd.DataFrame, timestamp_column: str, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, list[date]]:
    """Split labelled rows into training rows and a fresh holdout of the latest days.

    The holdout is the last ``holdout_days`` distinct event dates that have labels; those
    rows are never used for training so that challenger and champion can be compared on data
    neither has seen.

    Returns:
        ``(train, holdout, holdout_dates)``.
    """
    if frame.empty or holdout_days <= 0:
        return frame, frame.iloc[0:0], []
    days = event_dates(frame, timestamp_column)
    unique = sorted(set(days))
    holdout_dates = unique[-holdout_days:]
    if len(holdout_dates) == len(unique):
        raise TrainingDataError(
            f"only {len(unique)} labelled day(s): not enough to keep {holdout_days} holdout "
            "day(s) and still train; simulate or load more data, or lower gates.holdout.days"
        )
    mask = days.isin(set(holdout_dates)).to_numpy()
    return frame.loc[~mask], frame.loc[mask], holdout_dates


def check_trainable(frame: pd.DataFrame, config: RetrainerConfig) -> None:
    """Raise a clear error when the rows cannot train the configured task."""
    target = config.columns.target
    if frame.empty:
        raise TrainingDataError("the training window holds no labelled rows")
    missing = [c for c in [*config.columns.features, target] if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"training data lacks column(s): {missing}")
    if frame[target].isna().any():
        raise TrainingDataError(f"target column {target!r} has {frame[target].isna().sum()} nulls")
    if config.model.task != "regression" and frame[target].nunique() < 2:
        raise TrainingDataError(
            f"target column {target!r} has a single class in the training window; "
            "a classifier needs at least two"
        )


def fit_model(training: TrainingSet, config: RetrainerConfig) -> FittedModel:
    """Fit the configured pipeline (or continue the warm-start model) on a training set.

    Without ``training.init_model`` a new pipeline is built and fitted. With it (the
    ``warm_start`` window), the pipeline's fitted ``preprocess`` step is kept frozen, the rows
    are transformed by it and its ``model`` step continues: ``fit`` (the estimator was set to
    ``warm_start=True``) or ``init_epochs`` calls of ``partial_fit``.

    Raises:
        TrainingDataError: When the rows cannot train the configured task.
    """
    check_trainable(training.frame, config)
    cols = config.columns
    X = training.frame[cols.features]
    y = training.frame[cols.target]
    if config.model.task != "regression":
        y = y.astype("int64") if pd.api.types.is_integer_dtype(y) else y
    if training.init_model is not None:
        started = time.perf_counter()
        pipeline = _continue_fit(training, X, y)
        seconds = time.perf_counter() - started
        classes = list(getattr(pipeline, "classes_", [])) or None
        return FittedModel(pipeline, len(X), seconds, classes)
    pipeline = build_pipeline(cols, config.estimator, config.training.preprocessing)
    model = pipeline.named_steps["model"]
    if "random_state" in model.get_params():
        model.set_params(random_state=config.training.random_state)
    fit_params: dict[str, Any] = {}
    if training.sample_weight is not None:
        fit_params["model__sample_weight"] = training.sample_weight
    started = time.perf_counter()
    pipeline.fit(X, y, **fit_params)
    seconds = time.perf_counter() - started
    classes = list(getattr(pipeline, "classes_", [])) or None
    return FittedModel(pipeline, len(X), seconds, classes)


def _continue_fit(training: TrainingSet, X: pd.DataFrame, y: pd.Series) -> Any:
    """Continue ``training.init_model`` on ``X, y`` through its frozen preprocessor."""
    from sklearn.base import is_classifier
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    pipeline = training.init_model
    model = pipeline.named_steps["model"]
    features = pipeline.named_steps["preprocess"].transform(X)
    kwargs: dict[str, Any] = {}
    if training.sample_weight is not None:
        kwargs["sample_weight"] = training.sample_weight
    if training.init_method == "partial_fit":
        if is_classifier(model):
            kwargs["classes"] = model.classes_
        for _ in range(training.init_epochs):
            model.partial_fit(features, y, **kwargs)
    elif isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        _warm_fit_with_frozen_bins(model, features, y, kwargs.get("sample_weight"))
    else:
        model.fit(features, y, **kwargs)
    return pipeline


def _warm_fit_with_frozen_bins(
    model: Any, features: Any, y: pd.Series, sample_weight: np.ndarray | None
) -> None:
    """Warm-start fit of a HistGradientBoosting* model that keeps the bins of its first fit.

    scikit-learn (1.9) refits the bin thresholds on every ``fit`` and, when warm starting,
    evaluates the existing trees on the NEW bin indices to get the raw predictions the new
    trees correct. Those trees split on the OLD bin indices, so on new data (other quantiles)
    the starting predictions are wrong and the added trees fit the wrong residuals. Keeping
    the champion's bin mapper makes the old and the new trees share one binning; values
    outside the old range fall into the edge bins, like the frozen preprocessor's feature
    space.
    """
    frozen = getattr(model, "_bin_mapper", None)
    if frozen is None or not getattr(model, "warm_start", False):
        model.fit(features, y, sample_weight=sample_weight)
        return

    def bin_with_frozen_mapper(X: np.ndarray, sample_weight: Any, is_training_data: bool) -> Any:
        model._bin_mapper = frozen
        binned = frozen.transform(X)
        return np.asfortranarray(binned) if is_training_data else np.ascontiguousarray(binned)

    model._bin_data = bin_with_frozen_mapper  # instance attribute shadows the method
    try:
        model.fit(features, y, sample_weight=sample_weight)
    finally:
        del model._bin_data  # back to the class's method; keeps the model picklable


def score_frame(
    model: Any, frame: pd.DataFrame, config: RetrainerConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of ``model`` on ``frame`` (see :func:`predict_scores`)."""
    return predict_scores(model, frame[config.columns.features], config.model.task)


def holdout_metrics(
    model: Any,
    holdout: pd.DataFrame,
    config: RetrainerConfig,
    scored: tuple[np.ndarray, np.ndarray] | None = None,
    metrics: list[str] | None = None,
) -> dict[str, float | None]:
    """The task's default metrics of ``model`` on holdout rows (the version's recorded values).

    Args:
        model: The fitted pipeline.
        holdout: The holdout rows (features and target).
        config: The project config.
        scored: The model's ``score_frame`` of these rows, when already computed.
        metrics: Only these metrics (default: the task's defaults).

    Returns:
        Metric → value (None where it cannot be computed); empty for an empty holdout.
    """
    from retrainer.metrics import compute_metrics, default_metrics

    if holdout.empty:
        return {}
    scores, labels = scored if scored is not None else score_frame(model, holdout, config)
    classes = list(getattr(model, "classes_", [])) or None
    return compute_metrics(
        metrics or default_metrics(config.model.task),
        holdout[config.columns.target].to_numpy(),
        y_proba=scores,
        y_pred=labels,
        task=config.model.task,
        classes=classes,
    )
