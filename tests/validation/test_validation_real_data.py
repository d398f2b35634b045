"""Validation at the defaults on a public real dataset: daily Seattle weather, 2012-2015.

The data ships inside the ``vega_datasets`` package (nothing is downloaded) and is converted
with Retrainer's own importer, as a user would. One row a day, seasonal temperatures (the
60-day reference is January and February 2012), heavy-tailed precipitation with many zeros and
a rare category (snow). Clean days must pass; broken copies of real days must not.
"""

from __future__ import annotations

import importlib.resources
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from retrainer.config.core import ColumnsSection
from retrainer.config.validation import ValidationSection
from retrainer.data import DataCatalog, LocalStorage
from retrainer.validation import BatchInput, build_suite, profile_reference, validate_batches

pytestmark = pytest.mark.slow

COLUMNS = ColumnsSection(
    id="row_id",
    timestamp="date",
    target="weather",
    label_timestamp="label_time",
    numeric=["precipitation", "temp_max", "temp_min", "wind"],
)


@pytest.fixture(scope="module")
def weather(tmp_path_factory):
    """Every imported day of the Seattle weather, and the suite of its first 60 days."""
    from retrainer.config.core import DataSection
    from retrainer.data.importer import ImportOptions, import_data

    vega = pytest.importorskip(
        "vega_datasets", reason="vega_datasets is not installed (it ships seattle-weather.csv)"
    )
    csv = Path(str(importlib.resources.files(vega) / "_data" / "seattle-weather.csv"))
    root = tmp_path_factory.mktemp("weather")
    import_data(csv, root, ImportOptions(timestamp="date", target="weather", label_delay_days=1))
    catalog = DataCatalog(LocalStorage(root), DataSection(source=str(root)), COLUMNS)
    reads = catalog.features.read_each(catalog.features.dates())
    days = sorted(reads)
    reference = pd.concat([reads[d].frame for d in days[:60]], ignore_index=True)
    profile = profile_reference(
        reference,
        id_column="row_id",
        timestamp_column="date",
        numeric_columns=COLUMNS.numeric,
        categorical_columns=[],
    )
    suite = build_suite(profile, COLUMNS, ValidationSection(), name="weather")
    return days, {d: r.frame for d, r in reads.items()}, suite


def _validate(suite, frames: dict) -> list:
    items = [
        BatchInput(frame, day.isoformat(), [day], day - timedelta(days=1))
        for day, frame in sorted(frames.items())
    ]
    return validate_batches(items, suite)


def test_four_years_of_real_seasonal_days_pass_a_winter_reference(weather):
    _days, frames, suite = weather

    batches = _validate(suite, frames)

    assert len(batches) == 1461
    quarantined = [(b.label, b.reason()) for b in batches if b.blocked]
    assert len(quarantined) <= 0.01 * len(batches), quarantined[:5]
    # summer days are far outside the January-February range, and still plausible
    july = [b for b in batches if b.label.startswith("2014-07")]
    assert july
    assert not [b for b in july if b.blocked]


BROKEN = {
    "temp_max x1000": ("temp_max", lambda f: f.assign(temp_max=f["temp_max"] * 1000)),
    "wind x0.001": ("wind", lambda f: f.assign(wind=f["wind"] * 0.001)),
    "temperatures as text": ("temp_min", lambda f: f.assign(temp_min=f["temp_min"].astype(str))),
    "renamed column": ("precipitation", lambda f: f.rename(columns={"precipitation": "precip"})),
    "stale dates": ("date", lambda f: f.assign(date=f["date"] - pd.Timedelta(days=400))),
    "duplicated row": ("row_id", lambda f: pd.concat([f, f], ignore_index=True)),
    "empty day": (None, lambda f: f.iloc[0:0]),
}


@pytest.mark.parametrize("incident", list(BROKEN))
def test_a_broken_copy_of_a_real_day_is_rejected_naming_the_column(weather, incident):
    days, frames, suite = weather
    column, breaks = BROKEN[incident]
    day = days[800]

    [batch] = _validate(suite, {day: breaks(frames[day])})

    assert batch.blocked, incident
    assert column in {f.column for f in batch.errors}, [f.message for f in batch.errors]
