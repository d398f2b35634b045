"""What a window strategy looks at, and the day arithmetic the strategies share.

All windows count calendar days back from the newest event date in the history, like the
``fixed`` window: "the last 7 days" of a history ending on the 30th are the 24th to the 30th,
whether or not every one of those days holds labelled rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config import RetrainerConfig
from retrainer.training.trainer import TrainingDataError, check_trainable, event_dates


@dataclass
class WindowContext:
    """What a window strategy may look at.

    Attributes:
        config: The project config.
        history: Labelled rows available for training (the gate holdout already removed,
            quarantined batches never loaded).
        champion: The champion's fitted pipeline, if any (warm start, segment metrics).
    """

    config: RetrainerConfig
    history: pd.DataFrame
    champion: Any | None = None


def row_dates(frame: pd.DataFrame, timestamp_column: str) -> np.ndarray:
    """UTC event date of each row, as a numpy array of ``datetime.date``."""
    if frame.empty:
        return np.array([], dtype=object)
    return event_dates(frame, timestamp_column).to_numpy()


def last_days(frame: pd.DataFrame, timestamp_column: str, days: int | None) -> pd.DataFrame:
    """Rows of the last ``days`` calendar days of ``frame`` (all rows when ``days`` is None)."""
    if days is None or frame.empty:
        return frame
    dates = row_dates(frame, timestamp_column)
    start = max(dates) - timedelta(days=days - 1)
    return frame.loc[dates >= start]


def date_span(frame: pd.DataFrame, timestamp_column: str) -> tuple[date | None, date | None]:
    """First and last event date of ``frame`` (``(None, None)`` when empty)."""
    if frame.empty:
        return None, None
    dates = row_dates(frame, timestamp_column)
    return min(dates), max(dates)


def require_trainable(frame: pd.DataFrame, config: RetrainerConfig, kind: str) -> None:
    """Raise :class:`TrainingDataError` naming the strategy when ``frame`` cannot train a model.

    Raises:
        TrainingDataError: Empty window, single class, missing columns or null targets.
    """
    try:
        check_trainable(frame, config)
    except TrainingDataError as exc:
        raise TrainingDataError(f"{kind} window: {exc}") from None


def sample_rows(frame: pd.DataFrame, max_rows: int | None, random_state: int) -> np.ndarray:
    """Sorted positions of a uniform sample of at most ``max_rows`` rows (all rows when None)."""
    if max_rows is None or len(frame) <= max_rows:
        return np.arange(len(frame))
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(len(frame), size=max_rows, replace=False))
