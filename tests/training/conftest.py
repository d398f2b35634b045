"""Helpers for the window-strategy tests: configs, simulated labelled streams, metrics.

The helpers come through the ``kit`` fixture (``kit.config(...)``, ``kit.stream(...)`` ...)
so that test modules need no imports from this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from retrainer.config import RetrainerConfig, parse_config
from retrainer.metrics import compute_metric
from retrainer.simulate import DEFAULT_START, simulate
from retrainer.training.trainer import score_frame

LOGISTIC = ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000})
HIST_GBM = (
    "sklearn.ensemble.HistGradientBoostingClassifier",
    {"max_iter": 30, "learning_rate": 0.1, "early_stopping": False},
)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread: small fits are faster and not at the mercy of a busy machine."""
    with threadpool_limits(limits=1):
        yield


def loan_config(
    estimator: tuple[str, dict[str, Any]] = LOGISTIC, **training: Any
) -> RetrainerConfig:
    """A config for the simulated loan stream (``training`` keys go to the training section)."""
    class_path, params = estimator
    return parse_config(
        {
            "model": {"name": "credit-default", "task": "binary"},
            "data": {"source": "data"},
            "columns": {
                "id": "loan_id",
                "timestamp": "event_time",
                "target": "defaulted",
                "numeric": [
                    "income",
                    "loan_amount",
                    "interest_rate",
                    "term_months",
                    "credit_score",
                    "debt_to_income",
                    "utilization",
                    "age",
                    "employment_years",
                    "open_accounts",
                ],
                "categorical": ["region", "channel", "home_ownership", "purpose"],
                "segments": ["region", "channel"],
            },
            "estimator": {"class_path": class_path, "params": params},
            "training": training,
        }
    )


@lru_cache(maxsize=16)
def _simulated(scenario: str, days: int, rows_per_day: int, seed: int) -> pd.DataFrame:
    sim = simulate(scenario=scenario, days=days, seed=seed, rows_per_day=rows_per_day)
    return sim.features.merge(sim.labels[["loan_id", "defaulted"]], on="loan_id")


def labelled_stream(scenario: str, days: int, rows_per_day: int, seed: int = 0) -> pd.DataFrame:
    """Simulated feature rows joined with their labels (a fresh copy; cached underneath)."""
    return _simulated(scenario, days, rows_per_day, seed).copy()


def day(offset: int) -> date:
    """The simulation's day ``offset`` (0 = its first day)."""
    return date.fromisoformat(str(DEFAULT_START)) + timedelta(days=offset)


def between(frame: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """Rows of simulation days ``first`` .. ``last`` (inclusive)."""
    dates = pd.to_datetime(frame["event_time"], utc=True).dt.date
    return frame.loc[((dates >= day(first)) & (dates <= day(last))).to_numpy()]


def roc_auc(model: Any, frame: pd.DataFrame, config: RetrainerConfig) -> float:
    """ROC AUC of ``model`` on ``frame``."""
    scores, _ = score_frame(model, frame, config)
    value = compute_metric("roc_auc", frame[config.columns.target].to_numpy(), y_proba=scores)
    assert value.value is not None, value.reason
    return value.value


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above: ``config``, ``stream``, ``between``, ``day``, ``roc_auc``, presets."""
    return SimpleNamespace(
        config=loan_config,
        stream=labelled_stream,
        between=between,
        day=day,
        roc_auc=roc_auc,
        LOGISTIC=LOGISTIC,
        HIST_GBM=HIST_GBM,
    )
