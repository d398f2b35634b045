"""A model fitted before any drift, shared by the simulator tests."""

from __future__ import annotations

import pytest
from sim_helpers import model_frame, rows_on, simulated, single_thread


@pytest.fixture(scope="session")
def pre_drift_model():
    """HistGradientBoosting fitted on 30 clean days at the default 2,000 rows/day.

    Returns ``(model, stable_simulation)``; days 30..39 of the simulation were never trained on.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    sim = simulated("stable", days=40, rows_per_day=2000)
    train = rows_on(sim, sim.schedule.dates()[:30])
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, categorical_features="from_dtype", random_state=0
    )
    with single_thread():
        model.fit(model_frame(train), train["defaulted"])
    return model, sim
