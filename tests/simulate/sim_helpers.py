"""Helpers shared by the simulator tests: cached simulations, windows, two-sample tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
from scipy import stats

from retrainer.simulate import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    FEATURE_COLUMNS,
    Simulation,
    simulate,
)

ROWS_PER_DAY = 1000  # enough for reliable tests, half the default to keep them fast
DAYS = 100  # every single-pattern scenario has its drift well inside 100 days


@cache
def simulated(scenario: str, days: int = DAYS, rows_per_day: int = ROWS_PER_DAY) -> Simulation:
    """A simulation shared by the tests (treat it as read-only)."""
    return simulate(scenario, days=days, seed=0, rows_per_day=rows_per_day)


@cache
def scenario_sim(scenario: str, days: int | None = None, seed: int = 0) -> Simulation:
    """A simulation at the scenario's own length and rows per day (treat it as read-only)."""
    return simulate(scenario, days=days, seed=seed)


def day_numbers(sim: Simulation) -> np.ndarray:
    """Each clean feature row's day offset from the start (rows come in day order)."""
    return np.arange(len(sim.features)) // sim.schedule.rows_per_day


def rows_on(sim: Simulation, days: Iterable[date]) -> pd.DataFrame:
    """Clean feature rows of ``days`` joined with their labels."""
    wanted = sorted(set(days))
    n = sim.schedule.rows_per_day
    parts = [sim.features.iloc[(d - sim.schedule.start).days * n :][:n] for d in wanted]
    frame = pd.concat(parts, ignore_index=True)
    return frame.merge(sim.labels, on="loan_id", how="left", validate="one_to_one")


def drift_p_value(reference: pd.Series, current: pd.Series) -> float:
    """KS p-value for a numeric column, chi-square p-value for a categorical one."""
    if reference.name in CATEGORICAL_COLUMNS:
        categories = sorted(set(reference) | set(current))
        table = np.array(
            [
                [int((reference == c).sum()) for c in categories],
                [int((current == c).sum()) for c in categories],
            ]
        )
        return float(stats.chi2_contingency(table)[1])
    return float(stats.ks_2samp(reference.dropna(), current.dropna()).pvalue)


def model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Features with pandas categoricals (native categorical support of HGB)."""
    out = frame[list(FEATURE_COLUMNS)].copy()
    for column in CATEGORICAL_COLUMNS:
        out[column] = pd.Categorical(out[column], categories=CATEGORIES[column][0])
    return out


def single_thread():
    """One OpenMP/BLAS thread: much faster than oversubscribing a busy CI machine."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def roc_auc(model, frame: pd.DataFrame) -> float:
    """ROC AUC of ``model`` on labelled rows."""
    from sklearn.metrics import roc_auc_score

    with single_thread():
        scores = model.predict_proba(model_frame(frame))[:, 1]
    return float(roc_auc_score(frame["defaulted"], scores))
