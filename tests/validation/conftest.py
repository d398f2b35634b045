"""Shared fixtures: one simulated stream with every incident kind, and one suite built from it.

Importing Great Expectations takes seconds, so the suite and the stream are built once per
session and shared by the tests that run GX.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from validation_helpers import INCIDENT_DAYS, REFERENCE_DAYS, START, loan_columns, profile_of

from retrainer.config.core import ColumnsSection
from retrainer.config.validation import ValidationSection
from retrainer.validation import ReferenceProfile, ValidationSuite, build_suite


@pytest.fixture(scope="session")
def columns() -> ColumnsSection:
    return loan_columns()


@pytest.fixture(scope="session")
def stream():
    """45 stable days (2,000 rows each) with one incident of every kind on days 20..27."""
    from retrainer.simulate import simulate

    incidents = [f"{kind}@{day.isoformat()}" for kind, day in INCIDENT_DAYS.items()]
    return simulate("stable", days=45, seed=5, incidents=incidents)


@pytest.fixture(scope="session")
def reference(stream) -> pd.DataFrame:
    """The first 14 days (no incident), as delivered."""
    days = [START + timedelta(days=i) for i in range(REFERENCE_DAYS)]
    return pd.concat([stream.feature_batch(day) for day in days], ignore_index=True)


@pytest.fixture(scope="session")
def profile(reference, columns) -> ReferenceProfile:
    return profile_of(reference, columns)


@pytest.fixture(scope="session")
def suite(profile, columns) -> ValidationSuite:
    """The suite at the default rules."""
    return build_suite(
        profile, columns, ValidationSection(), name="credit-default.features", source={"kind": "t"}
    )
