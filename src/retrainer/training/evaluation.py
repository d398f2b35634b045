"""Metric helpers the window strategies share: which metric, quick fits, scoring a frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainer.config import RetrainerConfig
from retrainer.metrics import PreparedInputs, get_metric, prepare_inputs
from retrainer.training.context import sample_rows
from retrainer.training.trainer import TrainingSet, fit_model, score_frame


def resolve_metric(explicit: str | None, config: RetrainerConfig) -> str:
    """The metric a strategy optimises: its own, else the gates' comparison metric.

    The gates' comparison metric is itself the task's primary metric unless configured.

    Raises:
        UnknownMetricError: When the name is not a registered metric.
        ValueError: When the metric does not apply to the model's task.
    """
    name = explicit or config.gates.comparison_metric(config.model.task)
    spec = get_metric(name)
    if not spec.applies_to(config.model.task):
        raise ValueError(f"metric {name!r} does not apply to a {config.model.task} model")
    return name


def prepared_outputs(model: Any, frame: pd.DataFrame, config: RetrainerConfig) -> PreparedInputs:
    """Score ``frame`` with ``model`` and encode labels and outputs for metric computation."""
    scores, labels = score_frame(model, frame, config)
    classes = None
    if config.model.task != "regression":
        classes = list(getattr(model, "classes_", [])) or None
    return prepare_inputs(
        config.model.task,
        frame[config.columns.target].to_numpy(),
        y_proba=scores if config.model.task != "regression" else None,
        y_pred=labels,
        classes=classes,
    )


def metric_value(name: str, inputs: PreparedInputs, rows: np.ndarray | None = None) -> float | None:
    """The metric on prepared outputs (restricted to ``rows``); None when undefined there."""
    subset = inputs if rows is None else inputs.subset(rows)
    if subset.n == 0:
        return None
    return get_metric(name).compute(subset).value


def fit_quick(frame: pd.DataFrame, config: RetrainerConfig) -> Any:
    """Fit the configured pipeline on ``frame`` (sampled to ``training.max_rows``).

    Used to compare candidate windows and to stand in for a missing champion.

    Raises:
        TrainingDataError: When ``frame`` cannot train a model (empty, single class ...).
    """
    positions = sample_rows(frame, config.training.max_rows, config.training.random_state)
    return fit_model(TrainingSet(frame=frame.iloc[positions]), config).pipeline
