"""Helpers shared by the validation tests (column roles, profiles, clean batches)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from retrainer.config.core import ColumnsSection
from retrainer.validation import ReferenceProfile, profile_reference

REFERENCE_DAYS = 14
START = date(2026, 1, 1)

# one incident per kind, each on its own day after the reference window
INCIDENT_DAYS: dict[str, date] = {
    "schema_break": date(2026, 1, 20),
    "null_burst": date(2026, 1, 21),
    "unit_change": date(2026, 1, 22),
    "new_category": date(2026, 1, 23),
    "dtype_break": date(2026, 1, 24),
    "duplicate_ids": date(2026, 1, 25),
    "empty_batch": date(2026, 1, 26),
    "stale_dates": date(2026, 1, 27),
}


def loan_columns() -> ColumnsSection:
    """The demo config's column roles."""
    return ColumnsSection(
        id="loan_id",
        timestamp="event_time",
        target="defaulted",
        label_timestamp="label_time",
        numeric=[
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
        categorical=["region", "channel", "home_ownership", "purpose"],
        segments=["region", "channel"],
    )


def profile_of(frame: pd.DataFrame, columns: ColumnsSection | None = None) -> ReferenceProfile:
    """Profile a frame with the demo column roles."""
    columns = columns or loan_columns()
    return profile_reference(
        frame,
        id_column=columns.id,
        timestamp_column=columns.timestamp,
        numeric_columns=columns.numeric,
        categorical_columns=[*columns.categorical, *columns.segments],
        exclude=[columns.target],
    )


def clean_batch(stream, day: date) -> pd.DataFrame:
    """The day's rows as they really were (no incident)."""
    frame = stream.features
    return frame[frame["event_time"].dt.date == day].reset_index(drop=True)
